// A conversation as pure data, and every change the page makes to it (a reducer: easy to test, and the
// same whether the conversation lives in memory or on the server).
import type { ApprovalPart, AssistantTurn, Decision, ImageAttachment, Turn, UserTurn } from "../types";
import type { ConversationRef } from "./memory";

export interface Conversation {
  id: string;
  turns: Turn[];
  /** How requests name it to the server, which remembers it (./memory.ts). */
  ref: ConversationRef;
}

export type Change =
  /** A new question, and its answer starting. */
  | { type: "ask"; question: UserTurn; answerId: string }
  /** An earlier question rewritten: what followed it is dropped, and a new answer starts. */
  | { type: "edit"; questionId: string; text: string; answerId: string }
  /** The last answer asked again. */
  | { type: "regenerate"; answerId: string }
  /** An answer still running on the server, shown again (after a reload): its question, put back where it
   * was asked (what followed it is dropped: the server is answering it anew), and the answer so far. */
  | { type: "resume"; question: UserTurn; questionIndex: number; answerId: string }
  /** The user decided on an approval request of answer `answerId`: the answer goes on after that request
   * and the ones asked with it (anything shown after them is dropped: the server answers anew). */
  | { type: "decide"; answerId: string; decision: Decision }
  /** An answer's progress: its parts, status, error, trace id or feedback. */
  | { type: "answer"; answerId: string; patch: Partial<AssistantTurn> };

export function newQuestion(id: string, text: string, images: ImageAttachment[] = []): UserTurn {
  return { role: "user", id, text: text.trim(), images };
}

function newAnswer(id: string): AssistantTurn {
  return { role: "assistant", id, parts: [], status: "streaming" };
}

export function change(turns: Turn[], action: Change): Turn[] {
  switch (action.type) {
    case "ask":
      return [...turns, action.question, newAnswer(action.answerId)];
    case "edit": {
      const index = turns.findIndex((t) => t.id === action.questionId && t.role === "user");
      const question = turns[index];
      if (question?.role !== "user") return turns;
      return [...turns.slice(0, index), { ...question, text: action.text.trim() }, newAnswer(action.answerId)];
    }
    case "regenerate": {
      const last = turns[turns.length - 1];
      if (last?.role !== "assistant") return turns;
      return [...turns.slice(0, -1), newAnswer(action.answerId)];
    }
    case "resume": {
      let questions = 0;
      const at = turns.findIndex((t) => t.role === "user" && questions++ === action.questionIndex);
      return [...(at < 0 ? turns : turns.slice(0, at)), action.question, newAnswer(action.answerId)];
    }
    case "decide": {
      const { answerId, decision } = action;
      return turns.map((t) => (t.id === answerId && t.role === "assistant" ? goingOn(t, decision) : t));
    }
    case "answer":
      return turns.map((t) => (t.id === action.answerId && t.role === "assistant" ? { ...t, ...action.patch } : t));
  }
}

/** `answer` streaming again after `decision`, with what it showed up to the decided request and the
 * requests asked with it (they end an answer together); its trace and feedback are the next response's. */
function goingOn(answer: AssistantTurn, { requestId, approve }: Decision): AssistantTurn {
  const at = answer.parts.findIndex((p) => p.kind === "approval" && p.id === requestId);
  if (at < 0) return answer;
  let end = at + 1;
  while (answer.parts[end]?.kind === "approval") end += 1;
  const decision: ApprovalPart["decision"] = approve ? "approved" : "denied";
  const parts = answer.parts.slice(0, end).map((p, i) => (i === at && p.kind === "approval" ? { ...p, decision } : p));
  return { ...answer, parts, status: "streaming", error: undefined, traceId: undefined, feedback: undefined };
}

/** The turns before answer `answerId`: the conversation its request carries. */
export function historyBefore(turns: Turn[], answerId: string): Turn[] {
  const index = turns.findIndex((t) => t.id === answerId);
  return index < 0 ? turns : turns.slice(0, index);
}

/** Whether an answer is still arriving (nothing else may be asked meanwhile). */
export function isStreaming(turns: Turn[]): boolean {
  const last = turns[turns.length - 1];
  return last?.role === "assistant" && last.status === "streaming";
}
