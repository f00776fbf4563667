// Calls to the agent server. Same origin: `npm run dev` proxies these paths (vite.config.ts).
import { readSse } from "./sse";

export interface ToolInfo {
  name: string;
  description: string;
  /** The MCP server a remote tool runs on, e.g. "functions/system/ai". */
  server: string | null;
}

/** `GET /agent/info`: what the agent is (fields the page does not need are left out). */
export interface AgentInfo {
  name: string;
  task_type: string;
  description?: string;
  suggested_prompts?: string[];
  tools?: ToolInfo[];
}

/** `GET /api/me`: the signed-in user as Databricks Apps forwards it (nulls when run locally). */
export interface User {
  email: string | null;
  name: string | null;
}

/** What one stream frame tells: an event of the answer, or its trace id. */
export type StreamEvent =
  | { kind: "chunk"; chunk: unknown }
  | { kind: "trace"; traceId: string };

export async function getAgentInfo(signal?: AbortSignal): Promise<AgentInfo> {
  const response = await fetch("/agent/info", { signal });
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as AgentInfo;
}

export async function getUser(): Promise<User> {
  const response = await fetch("/api/me");
  if (!response.ok) throw await errorOf(response);
  return (await response.json()) as User;
}

/** An error of the server's answer: `status` is its HTTP status (none for an error frame). */
export class AgentError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The connection ended before the answer did (no `[DONE]`): the answer may go on on the server. */
export class ConnectionLost extends AgentError {}

/** Sends a request for a stream of frames to `path` and yields them until `[DONE]`; throws AgentError
 * on an error frame or answer, ConnectionLost when the stream ends early. */
export async function* streamFrames(path: string, init: RequestInit, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  const response = await fetch(path, {
    ...init,
    headers: { ...init.headers, accept: "text/event-stream", "x-mlflow-return-trace-id": "true" },
    signal,
  });
  if (!response.ok || !response.body) throw await errorOf(response);

  for await (const data of readSse(response.body)) {
    if (data === "[DONE]") return;
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      throw new AgentError(`The server sent a frame that is not JSON: ${data.slice(0, 200)}`);
    }
    const error = errorMessage(frame);
    if (error) throw new AgentError(error);
    const traceId = traceIdOf(frame);
    yield traceId ? { kind: "trace", traceId } : { kind: "chunk", chunk: frame };
  }
  throw new ConnectionLost("The connection closed before the answer was complete.");
}

export interface FeedbackSent {
  rating: "up" | "down";
  comment?: string;
  /** The assessment an earlier call recorded, to update rather than add another. */
  assessmentId?: string;
}

/** Records the feedback on the answer's trace; the id of the assessment it recorded or updated. */
export async function sendFeedback(traceId: string, feedback: FeedbackSent): Promise<string> {
  const response = await fetch("/api/feedback", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      trace_id: traceId,
      rating: feedback.rating,
      comment: feedback.comment ?? null,
      assessment_id: feedback.assessmentId ?? null,
    }),
  });
  if (!response.ok) throw await errorOf(response);
  return ((await response.json()) as { assessment_id: string }).assessment_id;
}

/** The message of an error frame: `{"error": {"message": ...}}` or a Responses `{"type": "error"}` event. */
export function errorMessage(frame: unknown): string | undefined {
  if (typeof frame !== "object" || frame === null) return undefined;
  const { error, type, message } = frame as { error?: unknown; type?: unknown; message?: unknown };
  if (type === "error") return typeof message === "string" ? message : "The agent failed.";
  if (error === undefined || error === null) return undefined;
  if (typeof error === "string") return error;
  const inner = (error as { message?: unknown }).message;
  return typeof inner === "string" ? inner : JSON.stringify(error);
}

/** The trace id sent just before `[DONE]`: a bare `{"trace_id": "tr-..."}` frame. */
export function traceIdOf(frame: unknown): string | undefined {
  if (typeof frame !== "object" || frame === null) return undefined;
  const { trace_id: traceId } = frame as { trace_id?: unknown };
  return typeof traceId === "string" && Object.keys(frame).length === 1 ? traceId : undefined;
}

export async function errorOf(response: Response): Promise<AgentError> {
  if (response.status === 413) {
    return new AgentError(
      "The question is too large for the server: send fewer or smaller images, or start a new chat.",
      413,
    );
  }
  const text = await response.text().catch(() => "");
  let message: string | undefined;
  try {
    const body: unknown = JSON.parse(text);
    message = errorMessage(body) ?? detailOf(body);
  } catch {
    message = undefined;
  }
  const described = message ?? `The server answered ${response.status} ${response.statusText} ${text.slice(0, 200)}`;
  return new AgentError(described.trim(), response.status);
}

/** FastAPI's own errors: `{"detail": "..."}` or a list of validation errors. */
function detailOf(body: unknown): string | undefined {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (detail === undefined) return undefined;
  return typeof detail === "string" ? detail : JSON.stringify(detail);
}
