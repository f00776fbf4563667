// How an answer reaches the page: a background response on `POST /responses` (../api/responses.ts), in
// every task type. It runs on the server whatever happens to the page: a dropped connection is resumed,
// a reload reads it again, Stop cancels it there. Another transport (tests, another server) is another
// object of this shape; the conversation code stays as it is.
import type { StreamEvent } from "../api/client";
import { cancelResponse, questionOf, resumeResponse, startResponse } from "../api/responses";

export interface AnswerTransport {
  /** The answer to `body` as it streams; `onStarted` gets the id the server gave it. Aborting `signal`
   * stops reading, not the answer: `cancel` stops it. */
  start(body: Record<string, unknown>, signal: AbortSignal, onStarted: (id: string) => void): AsyncIterable<StreamEvent>;
  /** Answer `id` from its beginning, as it streams (after a reload). */
  resume(id: string, signal: AbortSignal): AsyncIterable<StreamEvent>;
  /** Stops answer `id` on the server. */
  cancel(id: string): Promise<void>;
  /** The question answer `id` answers (an item of the conversation); undefined when it is gone. */
  question(id: string): Promise<unknown>;
}

export const backgroundResponses: AnswerTransport = {
  start: (body, signal, onStarted) => startResponse(body, signal, { onStarted }),
  resume: (id, signal) => resumeResponse(id, signal),
  cancel: cancelResponse,
  question: questionOf,
};
