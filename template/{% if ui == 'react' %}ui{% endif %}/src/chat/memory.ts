// How a request names its conversation, so the server remembers it (agent_server.memory). Every answer
// is a Responses request (`POST /responses`, whatever the app's task type: ../api/responses.ts).
// - the page's own conversations: `context.conversation_id`, an id the page makes on the first turn (the
//   id chat clients of every task type name a conversation with). The page resends the conversation each
//   turn; the server recognises the turns it has by their questions, and an edited or regenerated tail
//   replaces the stored one.
// - a conversation made by another client through the Conversations API (`POST /conversations`, listed
//   without a client id): Responses' `conversation` field, with the new question only.
import type { ConversationSummary } from "../api/conversations";
import { newId } from "../ids";
import { responses } from "../protocols/responses";
import type { Turn } from "../types";

export type ConversationRef =
  /** Named by the page: `context.conversation_id`. */
  | { kind: "client"; key: string }
  /** Made through the Conversations API: its stored id (Responses' `conversation`). */
  | { kind: "stored"; id: string };

/** What makes a request for an answer: a new question, a rewritten one, or the last answer again. */
export type Asking = "ask" | "edit" | "regenerate";

export function newRef(): ConversationRef {
  return { kind: "client", key: newId() };
}

/** How the page continues a listed conversation. */
export function refOf(summary: ConversationSummary): ConversationRef {
  const key = summary.metadata?.client_conversation_id;
  return typeof key === "string" && key ? { kind: "client", key } : { kind: "stored", id: summary.id };
}

/** Whether `summary` is the conversation `ref` names (the open one, in the list). */
export function isConversation(summary: ConversationSummary, ref: ConversationRef): boolean {
  return ref.kind === "client" ? summary.metadata?.client_conversation_id === ref.key : summary.id === ref.id;
}

export function sameRef(a: ConversationRef, b: ConversationRef): boolean {
  return a.kind === "client" ? b.kind === "client" && a.key === b.key : b.kind === "stored" && a.id === b.id;
}

/** The conversation a request continues: `ref` itself, or a new one where the server could not
 * continue `ref` that way. Rewriting the first question (editing it, or regenerating its answer)
 * starts over: the server tells a resent history by its earlier questions, and there are none; a
 * stored conversation takes new questions only. */
export function refFor(ref: ConversationRef, history: Turn[], asking: Asking): ConversationRef {
  if (ref.kind === "stored") return asking === "ask" ? ref : newRef();
  const questions = history.filter((turn) => turn.role === "user").length;
  return asking !== "ask" && questions <= 1 ? newRef() : ref;
}

/** The request for the answer after `history`, naming conversation `ref`. */
export function requestFor(history: Turn[], ref: ConversationRef): Record<string, unknown> {
  if (ref.kind === "stored") {
    const question = history.findLastIndex((turn) => turn.role === "user");
    return { ...responses.buildRequest(history.slice(question)), conversation: ref.id };
  }
  return { ...responses.buildRequest(history), context: { conversation_id: ref.key } };
}

/** `body`, which carries only what is new (e.g. an approval decision), naming conversation `ref`: the
 * server adds the turns it has (with no question in it, nothing stored is replaced). */
export function naming(body: Record<string, unknown>, ref: ConversationRef): Record<string, unknown> {
  return ref.kind === "stored" ? { ...body, conversation: ref.id } : { ...body, context: { conversation_id: ref.key } };
}
