import { describe, expect, it } from "vitest";
import { change } from "../chat/conversation";
import { decisionOf, itemsToTurns } from "../chat/items";
import { naming } from "../chat/memory";
import { responses } from "../protocols/responses";
import type { AssistantTurn, Part, Turn } from "../types";

// As agent_server.approvals sends them: the answer ends with the request; the decision comes next turn.
const REQUEST = {
  type: "mcp_approval_request",
  id: "mcpr_1",
  name: "save_note",
  arguments: '{"text": "example"}',
  server_label: "local",
};

describe("approvals", () => {
  it("a streamed approval request becomes a part waiting for a decision", () => {
    const parser = responses.createParser();
    parser.push({ type: "response.output_item.done", item: REQUEST });
    expect(parser.parts).toEqual([
      { kind: "approval", id: "mcpr_1", name: "save_note", arguments: '{"text": "example"}', server: "local", decision: undefined },
    ]);
  });

  it("the decision is a Responses item naming the conversation, and read back from it after a reload", () => {
    const request = responses.approvalRequest("mcpr_1", false);
    expect(naming(request, { kind: "client", key: "k1" })).toEqual({
      input: [{ type: "mcp_approval_response", approval_request_id: "mcpr_1", approve: false }],
      stream: true,
      context: { conversation_id: "k1" },
    });
    expect(naming(request, { kind: "stored", id: "conv_1" })).toMatchObject({ conversation: "conv_1" });
    const [sent] = request.input as unknown[];
    expect(decisionOf(sent)).toEqual({ requestId: "mcpr_1", approve: false });
    expect(decisionOf({ type: "message", role: "user", content: "hi" })).toBeUndefined();
    expect(decisionOf({ type: "mcp_approval_response" })).toBeUndefined();
  });

  it("a stored conversation shows the decision and what followed in the same answer", () => {
    const turns = itemsToTurns([
      { type: "message", id: "msg_1", role: "user", content: [{ type: "input_text", text: "Save it" }] },
      REQUEST,
      { type: "mcp_approval_response", id: "item_1", approval_request_id: "mcpr_1", approve: true },
      { type: "function_call", id: "fc_1", call_id: "mcpr_1", name: "save_note", arguments: "{}", status: "completed" },
      { type: "function_call_output", call_id: "mcpr_1", output: "Saved note 'example'." },
      { type: "message", id: "msg_2", role: "assistant", content: [{ type: "output_text", text: "Done." }] },
    ]);
    expect(turns).toHaveLength(2);
    const answer = turns[1]!;
    expect(answer.role === "assistant" && answer.parts.map((p) => [p.kind, p.kind === "approval" ? p.decision : ""])).toEqual([
      ["approval", "approved"],
      ["tool", ""],
      ["text", ""],
    ]);
  });

  it("a decision sets the answer going on after the request and the ones asked with it", () => {
    const tool: Part = { kind: "tool", callId: "c0", name: "count_notes", arguments: "{}", output: "0 notes" };
    const waiting = (id: string): Part => ({ kind: "approval", id, name: "save_note", arguments: "{}", server: "local" });
    const answer: AssistantTurn = {
      role: "assistant",
      id: "a1",
      parts: [tool, waiting("mcpr_1"), waiting("mcpr_2")],
      status: "done",
      traceId: "tr-1",
      feedback: { rating: "up", saving: false },
    };
    const turns: Turn[] = [{ role: "user", id: "q1", text: "Save both", images: [] }, answer];
    const [, goingOn] = change(turns, { type: "decide", answerId: "a1", decision: { requestId: "mcpr_1", approve: true } });
    expect(goingOn).toEqual({
      role: "assistant",
      id: "a1",
      parts: [tool, { ...waiting("mcpr_1"), decision: "approved" }, waiting("mcpr_2")],
      status: "streaming",
      error: undefined,
      traceId: undefined, // the next response's trace and feedback
      feedback: undefined,
    });

    // After a reload that lost the race, the stored answer already holds what the decision led to: it is
    // dropped, as the response that carries the decision is read again from its first event.
    const stored: AssistantTurn = {
      ...answer,
      parts: [waiting("mcpr_1"), { kind: "tool", callId: "mcpr_1", name: "save_note", arguments: "{}", output: "ok" }],
    };
    const decision = { requestId: "mcpr_1", approve: false };
    const [again] = change([stored], { type: "decide", answerId: "a1", decision });
    expect(again?.role === "assistant" && again.parts).toEqual([{ ...waiting("mcpr_1"), decision: "denied" }]);
    expect(change([stored], { type: "decide", answerId: "a1", decision: { requestId: "nope", approve: true } })).toEqual([
      stored,
    ]);
  });
});
