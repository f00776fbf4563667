// The UI's own model of a conversation, independent of the agent's task type.

export interface TextPart {
  kind: "text";
  id: string;
  text: string;
}

export interface ToolPart {
  kind: "tool";
  callId: string;
  name: string;
  arguments: string;
  output?: string;
}

export type Part = TextPart | ToolPart;

export interface UserTurn {
  role: "user";
  id: string;
  text: string;
}

export type AnswerStatus = "streaming" | "done" | "stopped" | "error";

export interface AssistantTurn {
  role: "assistant";
  id: string;
  parts: Part[];
  status: AnswerStatus;
  error?: string;
  traceId?: string;
  feedback?: "up" | "down";
  feedbackError?: string;
}

export type Turn = UserTurn | AssistantTurn;

/** Text of an answer, as resent in the history of the next request. */
export function answerText(turn: AssistantTurn): string {
  return turn.parts
    .flatMap((part) => (part.kind === "text" ? [part.text] : []))
    .join("\n\n")
    .trim();
}
