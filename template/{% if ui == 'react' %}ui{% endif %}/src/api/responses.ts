// Answers as background responses (agent_server.routes.responses), in every task type: the answer runs
// on the server, detached from the request that started it, and each of its events is stored with a
// sequence number. A dropped connection is resumed from the last event read (`starting_after`), so no
// text is lost or doubled; Stop cancels the response on the server.
import { AgentError, ConnectionLost, errorOf, streamFrames, type StreamEvent } from "./client";

/** Waits before each reconnection (the last one repeats): about a minute in all, then the page gives up. */
export const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000];
const FINAL_EVENTS = new Set(["response.completed", "response.failed", "response.incomplete"]);

/** The response ended without finishing: cancelled (by Stop here, or by another client). */
export class AnswerCancelled extends Error {}

/** The connection could not be resumed: the answer goes on on the server, and a reload resumes it. */
export class Disconnected extends AgentError {}

export interface Following {
  /** Called once the server has created the response (its first event), with its id. */
  onStarted?(responseId: string): void;
  /** Waits `ms` before a reconnection (tests make it instant). */
  wait?(ms: number, signal: AbortSignal): Promise<void>;
}

/** Starts `body` as a background response and yields its frames, each once, in order, until it ends. */
export function startResponse(
  body: Record<string, unknown>,
  signal: AbortSignal,
  options: Following = {},
): AsyncGenerator<StreamEvent> {
  return follow(undefined, body, signal, options);
}

/** The frames of response `responseId` from its first event (a reload rebuilds the answer from them). */
export function resumeResponse(responseId: string, signal: AbortSignal, options: Following = {}): AsyncGenerator<StreamEvent> {
  return follow(responseId, undefined, signal, options);
}

async function* follow(
  responseId: string | undefined,
  body: Record<string, unknown> | undefined,
  signal: AbortSignal,
  { onStarted, wait = pause }: Following,
): AsyncGenerator<StreamEvent> {
  let id = responseId;
  let after = -1; // the sequence number of the last event read
  let ended = false;
  let failures = 0;
  for (;;) {
    const frames =
      id === undefined
        ? streamFrames("/responses", post({ ...body, stream: true, background: true }), signal)
        : streamFrames(`/responses/${encodeURIComponent(id)}?stream=true&starting_after=${after}`, {}, signal);
    try {
      for await (const event of frames) {
        if (event.kind === "chunk") {
          const sequence = sequenceOf(event.chunk);
          if (sequence !== undefined && sequence <= after) continue; // read before the connection dropped
          if (sequence !== undefined) after = sequence;
          failures = 0;
          if (id === undefined && (id = responseIdOf(event.chunk))) onStarted?.(id);
          ended ||= FINAL_EVENTS.has(typeOf(event.chunk));
        }
        yield event;
      }
    } catch (error) {
      // Only a connection lost after the response exists can be resumed; the agent's own errors end it.
      if (signal.aborted || id === undefined || !isDropped(error)) throw error;
      if (failures >= RECONNECT_DELAYS_MS.length) {
        throw new Disconnected("Lost the connection to the agent server. The answer goes on there: reload the page to see it.");
      }
      await wait(RECONNECT_DELAYS_MS[failures++]!, signal);
      continue;
    }
    if (!ended) throw new AnswerCancelled("The answer was stopped.");
    return;
  }
}

/** Stops response `responseId` on the server (it is recorded `cancelled`). */
export async function cancelResponse(responseId: string): Promise<void> {
  const response = await fetch(`/responses/${encodeURIComponent(responseId)}/cancel`, post({}));
  if (!response.ok) throw await errorOf(response);
}

/** The question response `responseId` answers (the last item of its input); undefined once it is deleted. */
export async function questionOf(responseId: string): Promise<unknown> {
  const response = await fetch(`/responses/${encodeURIComponent(responseId)}/input_items?order=desc&limit=1`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw await errorOf(response);
  const page = (await response.json()) as { data?: unknown[] };
  return page.data?.[0];
}

function post(body: Record<string, unknown>): RequestInit {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

/** Whether `error` is the connection failing (resumable) rather than the server answering an error. */
function isDropped(error: unknown): boolean {
  if (error instanceof ConnectionLost || error instanceof TypeError) return true; // fetch's network errors
  return error instanceof AgentError && error.status !== undefined && error.status >= 502 && error.status <= 504;
}

function field(chunk: unknown, name: string): unknown {
  return typeof chunk === "object" && chunk !== null ? (chunk as Record<string, unknown>)[name] : undefined;
}

function sequenceOf(chunk: unknown): number | undefined {
  const sequence = field(chunk, "sequence_number");
  return typeof sequence === "number" ? sequence : undefined;
}

function typeOf(chunk: unknown): string {
  const type = field(chunk, "type");
  return typeof type === "string" ? type : "";
}

function responseIdOf(chunk: unknown): string | undefined {
  const id = field(field(chunk, "response"), "id");
  return typeof id === "string" && id ? id : undefined;
}

/** Resolves after `ms`, or as soon as the browser is back online after being offline; rejects on abort. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanUp = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      signal.removeEventListener("abort", aborted);
    };
    const done = () => {
      cleanUp();
      resolve();
    };
    const aborted = () => {
      cleanUp();
      reject(signal.reason as Error);
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
    signal.addEventListener("abort", aborted);
  });
}
