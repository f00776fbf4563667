import { describe, expect, it } from "vitest";
import { change, historyBefore, isStreaming, newQuestion } from "../chat/conversation";
import { MemoryConversationStore } from "../chat/store";
import type { Turn } from "../types";

function asked(): Turn[] {
  let turns = change([], { type: "ask", question: newQuestion("q1", "  first  "), answerId: "a1" });
  turns = change(turns, { type: "answer", answerId: "a1", patch: { status: "done", parts: [] } });
  turns = change(turns, { type: "ask", question: newQuestion("q2", "second"), answerId: "a2" });
  return change(turns, { type: "answer", answerId: "a2", patch: { status: "done" } });
}

describe("conversation changes", () => {
  it("asks: the question (trimmed) and a streaming answer", () => {
    const turns = change([], { type: "ask", question: newQuestion("q1", "  hi  "), answerId: "a1" });
    expect(turns).toEqual([
      { role: "user", id: "q1", text: "hi", images: [] },
      { role: "assistant", id: "a1", parts: [], status: "streaming" },
    ]);
    expect(isStreaming(turns)).toBe(true);
    expect(historyBefore(turns, "a1")).toEqual([turns[0]]);
  });

  it("resumes an answer after a reload: its question where it was asked, the stored tail after it dropped", () => {
    const question = newQuestion("q9", "second, again");
    const turns = change(asked(), { type: "resume", question, questionIndex: 1, answerId: "a9" });
    expect(turns.map((t) => t.id)).toEqual(["q1", "a1", "q9", "a9"]);
    expect(isStreaming(turns)).toBe(true);
    const first = change([], { type: "resume", question, questionIndex: 0, answerId: "a9" });
    expect(first.map((t) => t.id)).toEqual(["q9", "a9"]);
    const beyond = change(asked(), { type: "resume", question, questionIndex: 2, answerId: "a9" });
    expect(beyond.map((t) => t.id)).toEqual(["q1", "a1", "q2", "a2", "q9", "a9"]);
  });

  it("edits an earlier question: what followed is replaced by a new answer", () => {
    const turns = change(asked(), { type: "edit", questionId: "q1", text: "first, rewritten", answerId: "a3" });
    expect(turns.map((t) => t.id)).toEqual(["q1", "a3"]);
    expect(turns[0]).toMatchObject({ role: "user", text: "first, rewritten" });
    expect(historyBefore(turns, "a3")).toEqual([turns[0]]);
  });

  it("regenerates the last answer only", () => {
    const turns = change(asked(), { type: "regenerate", answerId: "a3" });
    expect(turns.map((t) => t.id)).toEqual(["q1", "a1", "q2", "a3"]);
    expect(turns[3]).toMatchObject({ status: "streaming", parts: [] });
    const afterQuestion = change(turns.slice(0, 3), { type: "regenerate", answerId: "a4" });
    expect(afterQuestion.map((t) => t.id)).toEqual(["q1", "a1", "q2"]);
  });

  it("patches one answer and leaves the rest as they were", () => {
    const before = asked();
    const after = change(before, { type: "answer", answerId: "a1", patch: { traceId: "tr-1" } });
    expect(after[1]).toMatchObject({ id: "a1", traceId: "tr-1", status: "done" });
    expect(after[3]).toBe(before[3]);
  });
});

describe("the in-memory store", () => {
  it("keeps the conversation it was given until the page goes", async () => {
    const store = new MemoryConversationStore();
    expect(await store.current()).toBeUndefined();
    const conversation = { ...store.create(), turns: asked() };
    await store.save(conversation);
    expect(await store.current()).toEqual(conversation);
    expect(store.create().id).not.toBe(conversation.id);
  });
});
