// A stored conversation's items (`GET /conversations/{id}/items`) as the page's turns. Every task type
// stores the same items (agent_server.items): messages with `input_text` / `output_text` parts (and
// `input_image` for a Responses question with images), `function_call`, `function_call_output` and
// `reasoning`, and approvals (`mcp_approval_request` / `mcp_approval_response`). Each user message is a
// question; what follows it, up to the next one, is its answer (a decision and what it led to included).
import { isObject, list, PartList, str } from "../protocols/protocol";
import type { AssistantTurn, Decision, ImageAttachment, Turn, UserTurn } from "../types";

export function itemsToTurns(items: unknown[]): Turn[] {
  const turns: Turn[] = [];
  let answer: { id: string; parts: PartList } | undefined;
  const endAnswer = () => {
    if (answer?.parts.parts.length) turns.push(storedAnswer(answer.id, answer.parts));
    answer = undefined;
  };
  items.forEach((item, index) => {
    if (!isObject(item)) return;
    const id = str(item.id) ?? `item-${index}`;
    const kind = str(item.type) ?? "message";
    if (kind === "message" && item.role === "user") {
      endAnswer();
      turns.push(question(id, item.content));
      return;
    }
    if (kind === "message" && item.role !== "assistant") return; // system and developer instructions
    answer ??= { id: `answer-${id}`, parts: new PartList() };
    const parts = answer.parts;
    if (kind === "message") {
      const text = textOf(item.content, ["output_text", "text"]);
      if (text) parts.setText(id, text);
    } else if (kind === "reasoning") {
      const text = textOf(item.summary, ["summary_text"]) || textOf(item.content, ["reasoning_text"]);
      if (text) parts.setReasoning(id, text);
    } else if (kind === "function_call") {
      parts.addToolCall(str(item.call_id) ?? id, str(item.name) ?? "tool", str(item.arguments) ?? "");
    } else if (kind === "function_call_output") {
      parts.setToolOutput(outputText(item.output), str(item.call_id));
    } else if (kind === "mcp_approval_request") {
      parts.addApproval(id, str(item.name) ?? "tool", str(item.arguments) ?? "", str(item.server_label) ?? "");
    } else if (kind === "mcp_approval_response") {
      const decision = decisionOf(item);
      if (decision) parts.decide(decision);
    }
  });
  endAnswer();
  return turns;
}

/** The decision an `mcp_approval_response` item carries (it is all the input of the response that acts on it). */
export function decisionOf(item: unknown): Decision | undefined {
  if (!isObject(item) || item.type !== "mcp_approval_response") return undefined;
  const requestId = str(item.approval_request_id);
  return requestId ? { requestId, approve: item.approve === true } : undefined;
}

function question(id: string, content: unknown): UserTurn {
  const urls = list(content).flatMap((part) => {
    if (!isObject(part) || part.type !== "input_image") return [];
    const url = str(part.image_url) ?? (isObject(part.image_url) ? str(part.image_url.url) : undefined);
    return url ? [url] : [];
  });
  const images = urls.map(
    (url, index): ImageAttachment => ({
      id: `${id}-image-${index}`,
      name: `image ${index + 1}`,
      dataUrl: url,
      bytes: url.length,
    }),
  );
  return { role: "user", id, text: textOf(content, ["input_text", "text"]).trim(), images };
}

function storedAnswer(id: string, parts: PartList): AssistantTurn {
  return { role: "assistant", id, parts: parts.parts, status: "done" };
}

/** A message's text: a plain string, or its text parts of the given types joined. */
function textOf(content: unknown, types: string[]): string {
  if (typeof content === "string") return content;
  return list(content)
    .flatMap((part) => (isObject(part) && types.includes(str(part.type) ?? "") ? [str(part.text) ?? ""] : []))
    .join("");
}

/** A tool result: a string, or (Responses) a list of content parts, or any JSON. */
function outputText(output: unknown): string {
  if (typeof output === "string") return output;
  const text = textOf(output, ["input_text", "output_text", "text"]);
  return text || JSON.stringify(output ?? "");
}
