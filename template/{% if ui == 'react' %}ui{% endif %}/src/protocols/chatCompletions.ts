// Task type agent/v1/chat: OpenAI ChatCompletions-style chunks. Tools the server ran arrive in
// `custom_outputs` ({"tool_call"} then {"tool_result"}); `delta.tool_calls` are read too, for agents
// that stream OpenAI-style tool-call deltas. Reasoning streams as `delta.reasoning_content`; images go
// as `image_url` content parts.
import type { ImageAttachment, Turn } from "../types";
import { isObject, list, messages, PartList, str, type Protocol, type StreamParser } from "./protocol";

export const chatCompletions: Protocol = {
  namesStoredConversations: false,
  images: { supported: true },

  buildRequest(history: Turn[]) {
    return { messages: messages(history, userContent).map(({ role, content }) => ({ role, content })), stream: true };
  },

  createParser(): StreamParser {
    const out = new PartList();
    // OpenAI-style tool-call deltas name the call only in their first chunk; later ones give its index.
    const callIds = new Map<number, string>();
    return {
      get parts() {
        return out.parts;
      },
      push(chunk: unknown) {
        if (!isObject(chunk)) return;
        const activity = isObject(chunk.custom_outputs) ? chunk.custom_outputs : {};
        if (isObject(activity.tool_call)) {
          const call = activity.tool_call;
          out.addToolCall(str(call.id) ?? out.newId("call"), str(call.name) ?? "", str(call.arguments) ?? "");
        }
        if (isObject(activity.tool_result)) {
          const result = activity.tool_result;
          out.setToolOutput(str(result.output) ?? "", str(result.id), str(result.name));
        }
        for (const choice of list(chunk.choices)) {
          if (!isObject(choice) || !isObject(choice.delta)) continue;
          const delta = choice.delta;
          const content = str(delta.content);
          if (delta.role === "tool") {
            out.setToolOutput(content ?? "", str(delta.tool_call_id), str(delta.name));
            continue;
          }
          const reasoning = str(delta.reasoning_content);
          if (reasoning) out.appendReasoning(out.last("reasoning") ?? out.newId("reasoning"), reasoning);
          for (const call of list(delta.tool_calls)) {
            if (!isObject(call)) continue;
            const fn = isObject(call.function) ? call.function : {};
            const index = typeof call.index === "number" ? call.index : callIds.size;
            const callId = str(call.id) ?? callIds.get(index) ?? out.newId("call");
            callIds.set(index, callId);
            out.addToolCall(callId, str(fn.name) ?? "", str(fn.arguments) ?? "");
          }
          if (content) out.appendText(out.last("text") ?? out.newId("text"), content);
        }
      },
    };
  },
};

/** A user message's content: plain text, or text and image parts. */
function userContent(text: string, images: ImageAttachment[]) {
  if (!images.length) return text;
  return [
    ...(text ? [{ type: "text", text }] : []),
    ...images.map((image) => ({ type: "image_url", image_url: { url: image.dataUrl } })),
  ];
}
