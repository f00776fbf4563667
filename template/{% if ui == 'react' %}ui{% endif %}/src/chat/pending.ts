// The answer this tab is waiting for, kept in sessionStorage (per tab, like the open conversation) so a
// reload resumes it: the response that runs it on the server, the conversation, and where its question
// sits in it. Its text is not kept: after a reload the page reads the answer's events again from the
// first one (the server keeps them all), which rebuilds exactly what was shown.
import type { ConversationRef } from "./memory";

export interface PendingAnswer {
  responseId: string;
  ref: ConversationRef;
  /** How many questions come before this answer's question in the conversation. */
  questionIndex: number;
}

const KEY = "agent-chat:pending-answer";
type KeptIn = Pick<Storage, "getItem" | "setItem" | "removeItem">;

export function keepPending(answer: PendingAnswer, storage: KeptIn = sessionStorage): void {
  storage.setItem(KEY, JSON.stringify(answer));
}

export function forgetPending(responseId: string, storage: KeptIn = sessionStorage): void {
  if (readPending(storage)?.responseId === responseId) storage.removeItem(KEY);
}

export function readPending(storage: KeptIn = sessionStorage): PendingAnswer | undefined {
  try {
    const kept = JSON.parse(storage.getItem(KEY) ?? "null") as Partial<PendingAnswer> | null;
    const ref = kept?.ref;
    const validRef = ref?.kind === "client" ? typeof ref.key === "string" : typeof ref?.id === "string";
    if (typeof kept?.responseId === "string" && typeof kept.questionIndex === "number" && validRef) {
      return kept as PendingAnswer;
    }
  } catch {
    // not ours: ignored
  }
  return undefined;
}
