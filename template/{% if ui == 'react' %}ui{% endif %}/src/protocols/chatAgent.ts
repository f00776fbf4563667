// Task type agent/v2/chat: MLflow ChatAgent chunks (every message has an id).
import type { Turn } from "../types";
import { isObject, list, PartList, textMessages, str, type Protocol, type StreamParser } from "./protocol";

export const chatAgent: Protocol = {
  buildRequest(history: Turn[]) {
    return { messages: textMessages(history), stream: true };
  },

  createParser(): StreamParser {
    const out = new PartList();
    return {
      get parts() {
        return out.parts;
      },
      push(chunk: unknown) {
        if (!isObject(chunk) || !isObject(chunk.delta)) return;
        const delta = chunk.delta;
        const content = str(delta.content) ?? "";
        if (delta.role === "tool") {
          out.setToolOutput(content, str(delta.tool_call_id), str(delta.name));
          return;
        }
        for (const call of list(delta.tool_calls)) {
          if (!isObject(call)) continue;
          const fn = isObject(call.function) ? call.function : {};
          out.addToolCall(str(call.id) ?? out.newId("call"), str(fn.name) ?? "tool", str(fn.arguments) ?? "");
        }
        // Deltas that share a message id build one message.
        if (content) out.appendText(str(delta.id) ?? out.lastText() ?? out.newId("msg"), content);
      },
    };
  },
};
