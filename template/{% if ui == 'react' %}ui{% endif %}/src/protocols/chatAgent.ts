// Task type agent/v2/chat: MLflow ChatAgent chunks (every message has an id). Its messages carry text
// only, so no images; the model's reasoning comes in `custom_outputs.reasoning` of empty deltas.
import type { Turn } from "../types";
import { isObject, list, messages, PartList, str, type Protocol, type StreamParser } from "./protocol";

export const chatAgent: Protocol = {
  namesStoredConversations: false,
  images: {
    supported: false,
    reason:
      "This agent speaks MLflow ChatAgent (agent/v2/chat), whose messages carry text only: images cannot be sent to it.",
  },

  buildRequest(history: Turn[]) {
    return { messages: messages(history, (text) => text), stream: true };
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
        const reasoning = isObject(chunk.custom_outputs) ? str(chunk.custom_outputs.reasoning) : undefined;
        if (reasoning) out.appendReasoning(`reasoning-${str(delta.id) ?? out.newId("msg")}`, reasoning);
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
        if (content) out.appendText(str(delta.id) ?? out.last("text") ?? out.newId("msg"), content);
      },
    };
  },
};
