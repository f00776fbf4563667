// Task type agent/v1/responses: OpenAI Responses-style events
// (https://mlflow.org/docs/latest/genai/serving/responses-agent).
import type { Turn } from "../types";
import { isObject, list, PartList, plainMessages, str, type Protocol, type StreamParser } from "./protocol";

export const responses: Protocol = {
  buildRequest(history: Turn[]) {
    return { input: plainMessages(history), stream: true };
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
          if (delta) out.appendText(str(chunk.item_id) ?? out.lastText() ?? out.newId("msg"), delta);
          return;
        }
        if (chunk.type !== "response.output_item.done" || !isObject(chunk.item)) return;
        const item = chunk.item;
        if (item.type === "message") {
          // The final message repeats the streamed text in full: replace, don't append.
          const text = list(item.content)
            .flatMap((c) => (isObject(c) && c.type === "output_text" ? [str(c.text) ?? ""] : []))
            .join("");
          out.setText(str(item.id) ?? out.newId("msg"), text);
        } else if (item.type === "function_call") {
          const callId = str(item.call_id) ?? str(item.id) ?? out.newId("call");
          out.addToolCall(callId, str(item.name) ?? "tool", str(item.arguments) ?? "");
        } else if (item.type === "function_call_output") {
          out.setToolOutput(stringify(item.output), str(item.call_id));
        }
      },
    };
  },
};

function stringify(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}
