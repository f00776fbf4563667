import { describe, expect, it } from "vitest";
import type { ConversationSummary } from "../api/conversations";
import { change, newQuestion } from "../chat/conversation";
import { itemsToTurns } from "../chat/items";
import { isConversation, newRef, refFor, refOf, requestFor, sameRef, type ConversationRef } from "../chat/memory";
import { ServerConversationStore } from "../chat/store";
import { relativeTime } from "../time";
import type { Turn } from "../types";

// Items as the server stores them (agent_server.items): the same for every task type.
const STORED = [
  { type: "message", id: "msg_sys", role: "system", content: [{ type: "input_text", text: "Be brief." }] },
  { type: "message", id: "msg_1", role: "user", status: "completed", content: [{ type: "input_text", text: "What time is it?" }] },
  { type: "reasoning", id: "rs_1", summary: [{ type: "summary_text", text: "A tool can tell me." }] },
  { type: "function_call", id: "fc_1", call_id: "call_1", name: "current_time", arguments: "{}", status: "completed" },
  { type: "function_call_output", id: "fco_1", call_id: "call_1", output: "2026-11-25T19:00:00Z" },
  {
    type: "message",
    id: "msg_2",
    role: "assistant",
    status: "completed",
    content: [{ type: "output_text", text: "Turn 1: current_time returned 2026-11-25T19:00:00Z.", annotations: [] }],
  },
  {
    type: "message",
    id: "msg_3",
    role: "user",
    content: [
      { type: "input_text", text: "And this picture?" },
      { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "auto" },
    ],
  },
  { type: "message", id: "msg_4", role: "assistant", content: [{ type: "output_text", text: "Turn 2: I saw 1 image." }] },
];

describe("stored items as turns", () => {
  it("makes each user message a question and what follows it its answer, tools and reasoning included", () => {
    const turns = itemsToTurns(STORED);
    expect(turns.map((t) => t.role)).toEqual(["user", "assistant", "user", "assistant"]);
    expect(turns[0]).toEqual({ role: "user", id: "msg_1", text: "What time is it?", images: [] });
    expect(turns[1]).toEqual({
      role: "assistant",
      id: "answer-rs_1",
      status: "done",
      parts: [
        { kind: "reasoning", id: "rs_1", text: "A tool can tell me." },
        { kind: "tool", callId: "call_1", name: "current_time", arguments: "{}", output: "2026-11-25T19:00:00Z" },
        { kind: "text", id: "msg_2", text: "Turn 1: current_time returned 2026-11-25T19:00:00Z." },
      ],
    });
    expect(turns[2]).toMatchObject({ text: "And this picture?" });
    const [image] = (turns[2] as Extract<Turn, { role: "user" }>).images;
    expect(image).toMatchObject({ name: "image 1", dataUrl: "data:image/png;base64,iVBORw0KGgo=" });
  });

  it("reads plain-string content, list outputs, a question never answered, and skips what it does not know", () => {
    const turns = itemsToTurns([
      { type: "message", id: "u1", role: "user", content: "first" },
      { type: "message", id: "u2", role: "user", content: [{ type: "input_text", text: "  second  " }] },
      { type: "function_call", call_id: "c1", name: "lookup", arguments: '{"q": 1}' },
      { type: "function_call_output", call_id: "c1", output: [{ type: "input_text", text: "found" }] },
      { type: "web_search_call", id: "ws_1" },
      "not an item",
      { type: "message", role: "assistant", content: "done" },
    ]);
    expect(turns.map((t) => (t.role === "user" ? t.text : t.parts.map((p) => p.kind)))).toEqual([
      "first",
      "second",
      ["tool", "text"],
    ]);
    const answer = turns[2] as Extract<Turn, { role: "assistant" }>;
    expect(answer.parts[0]).toMatchObject({ callId: "c1", name: "lookup", output: "found" });
    expect(answer.parts[1]).toMatchObject({ kind: "text", text: "done" });
  });

  it("makes an answer of a conversation that starts with the assistant, and nothing of no items", () => {
    expect(itemsToTurns([])).toEqual([]);
    const [greeting] = itemsToTurns([{ type: "message", id: "m", role: "assistant", content: "Hello!" }]);
    expect(greeting).toMatchObject({ role: "assistant", status: "done", parts: [{ kind: "text", text: "Hello!" }] });
  });

  it("are what the page resends: a loaded conversation continues as if it had been asked here", () => {
    const turns = itemsToTurns(STORED);
    const asked = change(turns, { type: "ask", question: newQuestion("q3", "Third?"), answerId: "a3" });
    const ref: ConversationRef = { kind: "client", key: "k1" };
    const body = requestFor(asked.slice(0, -1), ref);
    expect(body).toEqual({
      input: [
        { role: "user", content: "What time is it?" },
        { role: "assistant", content: "Turn 1: current_time returned 2026-11-25T19:00:00Z." },
        {
          role: "user",
          content: [
            { type: "input_text", text: "And this picture?" },
            { type: "input_image", image_url: "data:image/png;base64,iVBORw0KGgo=", detail: "auto" },
          ],
        },
        { role: "assistant", content: "Turn 2: I saw 1 image." },
        { role: "user", content: "Third?" },
      ],
      stream: true,
      context: { conversation_id: "k1" },
    });
  });
});

function summary(id: string, metadata: Record<string, string> = {}): ConversationSummary {
  return { id, title: "t", created_at: 0, updated_at: 0, metadata };
}

describe("naming the conversation to the server", () => {
  const question = (id: string): Turn => newQuestion(id, id);
  const answer = (id: string): Turn => ({ role: "assistant", id, parts: [], status: "done" });

  it("continues the page's conversations by their client id, and others by their stored id", () => {
    expect(refOf(summary("conv_1", { client_conversation_id: "k1" }))).toEqual({ kind: "client", key: "k1" });
    expect(refOf(summary("conv_2"))).toEqual({ kind: "stored", id: "conv_2" });
    expect(isConversation(summary("conv_1", { client_conversation_id: "k1" }), { kind: "client", key: "k1" })).toBe(true);
    expect(isConversation(summary("conv_1"), { kind: "client", key: "conv_1" })).toBe(false);
    expect(isConversation(summary("conv_2"), { kind: "stored", id: "conv_2" })).toBe(true);
    const [a, b] = [newRef(), newRef()];
    expect(a.kind).toBe("client");
    expect(a).not.toEqual(b);
  });

  it("keeps the conversation for a new question and for rewriting a later one", () => {
    const ref: ConversationRef = { kind: "client", key: "k" };
    expect(refFor(ref, [question("q1")], "ask")).toBe(ref);
    const later = [question("q1"), answer("a1"), question("q2")];
    expect(refFor(ref, later, "edit")).toBe(ref);
    expect(refFor(ref, later, "regenerate")).toBe(ref);
  });

  it("starts a new conversation when the first question is rewritten", () => {
    const ref: ConversationRef = { kind: "client", key: "k" };
    for (const asking of ["edit", "regenerate"] as const) {
      const next = refFor(ref, [question("q1")], asking);
      expect(next.kind).toBe("client");
      expect(next).not.toEqual(ref);
    }
  });

  it("continues a Conversations-API conversation with `conversation` (new questions only), or as a new one", () => {
    const stored: ConversationRef = { kind: "stored", id: "conv_9" };
    const history = [question("q1"), answer("a1"), question("q2")];
    expect(refFor(stored, history, "ask")).toBe(stored);
    expect(refFor(stored, history, "regenerate").kind).toBe("client");
    expect(requestFor(history, stored)).toEqual({
      input: [{ role: "user", content: "q2" }],
      stream: true,
      conversation: "conv_9",
    });
    expect(requestFor(history, { kind: "client", key: "k" })).toMatchObject({
      input: [{ content: "q1" }, { content: "q2" }],
      context: { conversation_id: "k" },
    });
    expect(sameRef(stored, { kind: "stored", id: "conv_9" }) && !sameRef(stored, { kind: "client", key: "conv_9" })).toBe(true);
  });
});

class MapStorage {
  readonly values = new Map<string, string>();
  getItem = (key: string) => this.values.get(key) ?? null;
  setItem = (key: string, value: string) => void this.values.set(key, value);
  removeItem = (key: string) => void this.values.delete(key);
}

describe("the server store", () => {
  it("remembers which conversation is open once it has a turn, and forgets it for a new chat", async () => {
    const storage = new MapStorage();
    const store = new ServerConversationStore(storage);
    const fresh = store.create();
    expect(fresh.turns).toEqual([]);
    expect(fresh.ref.kind).toBe("client");
    await store.save(fresh);
    expect(storage.values.size).toBe(0);
    await store.save({ ...fresh, turns: [newQuestion("q1", "hi")] });
    expect(JSON.parse([...storage.values.values()][0]!)).toEqual(fresh.ref);
    await store.save(store.create());
    expect(storage.values.size).toBe(0);
  });
});

describe("relative times", () => {
  const now = Date.UTC(2026, 10, 25, 12, 0, 0);
  const ago = (seconds: number) => now / 1000 - seconds;
  it("says how long ago, in words, then the date", () => {
    expect(relativeTime(ago(5), now, "en")).toBe("just now");
    expect(relativeTime(ago(5 * 60), now, "en")).toBe("5 min. ago");
    expect(relativeTime(ago(3 * 3600 + 59), now, "en")).toBe("3 hr. ago");
    expect(relativeTime(ago(86_400 + 10), now, "en")).toBe("yesterday");
    expect(relativeTime(ago(3 * 86_400), now, "en")).toBe("3 days ago");
    expect(relativeTime(ago(10 * 86_400), now, "en")).toBe("Nov 15");
    expect(relativeTime(ago(400 * 86_400), now, "en")).toBe("Oct 21, 2025");
    expect(relativeTime(now / 1000 + 30, now, "en")).toBe("just now"); // a clock a little ahead
  });
});
