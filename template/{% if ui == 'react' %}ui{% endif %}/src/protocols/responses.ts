// The Responses API, which every app serves on /responses whatever its task type: OpenAI Responses events
// (https://mlflow.org/docs/latest/genai/serving/responses-agent). Images go as `input_image` parts;
// reasoning streams as `response.reasoning_summary_text.delta` events and `reasoning` items. A tool call
// that needs the user's approval ends an answer with an `mcp_approval_request` item; the decision goes
// back as an `mcp_approval_response` item, and the answer goes on (agent_server.approvals).
import type { ImageAttachment, Turn } from "../types";
import { isObject, list, messages, PartList, str, type Protocol, type StreamParser } from "./protocol";

export const responses: Protocol = {
  images: { supported: true },

  approvalRequest(requestId: string, approve: boolean) {
    return { input: [{ type: "mcp_approval_response", approval_request_id: requestId, approve }], stream: true };
  },

  buildRequest(history: Turn[]) {
    const input = messages(history, userContent).map(({ role, content }) => ({ role, content }));
    return { input, stream: true };
  },

  createParser(): StreamParser {
    const out = new PartList();
    return {
      get parts() {
        return out.parts;
      },
      push(chunk: unknown) {
        if (!isObject(chunk)) return;
        if (chunk.type === "response.output_text.delta") {
          const delta = str(chunk.delta);
          if (delta) out.appendText(str(chunk.item_id) ?? out.last("text") ?? out.newId("msg"), delta);
          return;
        }
        if (chunk.type === "response.reasoning_summary_text.delta") {
          const delta = str(chunk.delta);
          if (delta) out.appendReasoning(str(chunk.item_id) ?? out.last("reasoning") ?? out.newId("rs"), delta);
          return;
        }
        if (chunk.type !== "response.output_item.done" || !isObject(chunk.item)) return;
        const item = chunk.item;
        if (item.type === "message") {
          // The final message repeats the streamed text in full: replace, don't append.
          out.setText(str(item.id) ?? out.newId("msg"), joined(item.content, "output_text"));
        } else if (item.type === "reasoning") {
          out.setReasoning(str(item.id) ?? out.newId("rs"), joined(item.summary, "summary_text"));
        } else if (item.type === "function_call") {
          const callId = str(item.call_id) ?? str(item.id) ?? out.newId("call");
          out.addToolCall(callId, str(item.name) ?? "tool", str(item.arguments) ?? "");
        } else if (item.type === "function_call_output") {
          out.setToolOutput(stringify(item.output), str(item.call_id));
        } else if (item.type === "mcp_approval_request") {
          const id = str(item.id) ?? out.newId("mcpr");
          out.addApproval(id, str(item.name) ?? "tool", str(item.arguments) ?? "", str(item.server_label) ?? "");
        }
      },
    };
  },
};

/** A user message's content: plain text, or text and image parts. */
function userContent(text: string, images: ImageAttachment[]) {
  if (!images.length) return text;
  return [
    ...(text ? [{ type: "input_text", text }] : []),
    ...images.map((image) => ({ type: "input_image", image_url: image.dataUrl, detail: "auto" })),
  ];
}

function joined(parts: unknown, type: string): string {
  return list(parts)
    .flatMap((part) => (isObject(part) && part.type === type ? [str(part.text) ?? ""] : []))
    .join("");
}

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
