// How an answer reaches the page. Today: one streamed `POST /invocations` in the app's task type;
// Stop closes the connection (the server then cancels the agent). An answer that runs on the server
// in the background (resumed after a dropped connection or a reload, cancelled by the server) is
// another `AnswerTransport`, and the conversation code stays as it is.
import { streamInvocation, type StreamEvent } from "../api/client";

export interface AnswerTransport {
  /** The answer to `body` as it streams; aborting `signal` stops it. */
  stream(body: Record<string, unknown>, signal: AbortSignal): AsyncIterable<StreamEvent>;
}

export const invocations: AnswerTransport = {
  stream: (body, signal) => streamInvocation(body, signal, "/invocations"),
};
