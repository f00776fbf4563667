import { describe, expect, it } from "vitest";
import { itemsToTurns } from "../chat/items";
import { naming } from "../chat/memory";
import { chatAgent } from "../protocols/chatAgent";
import { chatCompletions } from "../protocols/chatCompletions";
import { responses } from "../protocols/responses";

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

  it("the decision is a Responses item naming the conversation; the chat types cannot send one", () => {
    const request = responses.approvalRequest?.("mcpr_1", false);
    expect(naming(request ?? {}, { kind: "client", key: "k1" })).toEqual({
      input: [{ type: "mcp_approval_response", approval_request_id: "mcpr_1", approve: false }],
      stream: true,
      context: { conversation_id: "k1" },
    });
    expect(naming({}, { kind: "stored", id: "conv_1" })).toEqual({ conversation: "conv_1" });
    expect(chatCompletions.approvalRequest).toBeUndefined();
    expect(chatAgent.approvalRequest).toBeUndefined();
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
});
