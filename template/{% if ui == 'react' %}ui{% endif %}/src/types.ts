// The UI's own model of a conversation, independent of the agent's task type.

export interface TextPart {
  kind: "text";
  id: string;
  text: string;
}

/** The model's reasoning (or a summary of it), shown collapsed above the text it led to. */
export interface ReasoningPart {
  kind: "reasoning";
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

/** A tool call that waits for the user (the Responses API's `mcp_approval_request`): Approve runs
 * it and the answer goes on; Deny tells the model the user declined. */
export interface ApprovalPart {
  kind: "approval";
  /** The approval request's id, which the decision answers. */
  id: string;
  name: string;
  arguments: string;
  /** Where the tool runs: "local" (tools.py) or its MCP server. */
  server: string;
  decision?: "approved" | "denied";
}

/** The user's answer to an approval request (sent as an `mcp_approval_response` item). */
export interface Decision {
  requestId: string;
  approve: boolean;
}

export type Part = TextPart | ReasoningPart | ToolPart | ApprovalPart;

/** An image attached to a question, as the data: URL that is sent. */
export interface ImageAttachment {
  id: string;
  name: string;
  dataUrl: string;
  /** Size of the data: URL as sent, in bytes. */
  bytes: number;
}

export interface UserTurn {
  role: "user";
  id: string;
  text: string;
  images: ImageAttachment[];
}

export type AnswerStatus = "streaming" | "done" | "stopped" | "error";

export interface Feedback {
  rating: "up" | "down";
  comment?: string;
  /** The assessment the server recorded: a later comment or rating updates it. */
  assessmentId?: string;
  saving: boolean;
  error?: string;
}

export interface AssistantTurn {
  role: "assistant";
  id: string;
  parts: Part[];
  status: AnswerStatus;
  error?: string;
  traceId?: string;
  feedback?: Feedback;
}

export type Turn = UserTurn | AssistantTurn;

/** Text of an answer: what Copy copies and what the next request resends. */
export function answerText(turn: AssistantTurn): string {
  return turn.parts
    .flatMap((part) => (part.kind === "text" ? [part.text] : []))
    .join("\n\n")
    .trim();
}
