import { afterEach, describe, expect, it, vi } from "vitest";
import { AgentError, type StreamEvent } from "../api/client";
import { AnswerCancelled, Disconnected, RECONNECT_DELAYS_MS, resumeResponse, startResponse } from "../api/responses";

/** One answer of the fake server: SSE frames (a number is an event with that sequence number), ending
 * with `[DONE]`, or cut (no `[DONE]`), or an HTTP status, or a network failure. */
type Answer = { frames: (number | object)[]; end: "done" | "cut" } | { status: number } | "network error";

function fakeServer(answers: Answer[]) {
  const calls: { url: string; init?: RequestInit }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      calls.push({ url, init });
      const answer = answers.shift();
      if (!answer || answer === "network error") throw new TypeError("Failed to fetch");
      if ("status" in answer) return new Response('{"detail": "unavailable"}', { status: answer.status });
      const frames = answer.frames.map((f) => `data: ${JSON.stringify(typeof f === "number" ? event(f) : f)}\n\n`);
      return new Response(frames.join("") + (answer.end === "done" ? "data: [DONE]\n\n" : ""), { status: 200 });
    }),
  );
  return calls;
}

function event(sequence: number): object {
  if (sequence === 0) return { type: "response.created", sequence_number: 0, response: { id: "resp_1" } };
  if (sequence === 9) return { type: "response.completed", sequence_number: 9, response: { id: "resp_1" } };
  return { type: "response.output_text.delta", sequence_number: sequence, delta: `w${sequence} ` };
}

/** The sequence numbers of the events read, and the other frames as they are. */
async function read(answer: AsyncIterable<StreamEvent>): Promise<unknown[]> {
  const seen: unknown[] = [];
  for await (const frame of answer) {
    seen.push(frame.kind === "chunk" ? (frame.chunk as { sequence_number: number }).sequence_number : frame);
  }
  return seen;
}

const instantly = vi.fn(async (_ms: number, _signal: AbortSignal) => undefined);
afterEach(() => {
  vi.unstubAllGlobals();
  instantly.mockClear();
});

describe("a background answer", () => {
  it("starts with background and stream, and resumes a cut connection after the last event, nothing doubled", async () => {
    const calls = fakeServer([
      { frames: [0, 1, 2], end: "cut" },
      "network error",
      { status: 503 },
      { frames: [2, 3, 9, { trace_id: "tr-1" }], end: "done" }, // 2 again: the page read it already
    ]);
    const started = vi.fn();
    const frames = await read(startResponse({ input: "hi" }, new AbortController().signal, { onStarted: started, wait: instantly }));
    expect(frames).toEqual([0, 1, 2, 3, 9, { kind: "trace", traceId: "tr-1" }]);
    expect(started).toHaveBeenCalledExactlyOnceWith("resp_1");
    expect(calls[0]!.url).toBe("/responses");
    expect(JSON.parse(calls[0]!.init!.body as string)).toEqual({ input: "hi", stream: true, background: true });
    expect(calls.slice(1).map((c) => c.url)).toEqual(Array(3).fill("/responses/resp_1?stream=true&starting_after=2"));
    expect(instantly.mock.calls.map(([ms]) => ms)).toEqual(RECONNECT_DELAYS_MS.slice(0, 3)); // backing off
  });

  it("reads a response from its first event again (after a reload)", async () => {
    const calls = fakeServer([{ frames: [0, 1, 9], end: "done" }]);
    expect(await read(resumeResponse("resp_1", new AbortController().signal))).toEqual([0, 1, 9]);
    expect(calls[0]!.url).toBe("/responses/resp_1?stream=true&starting_after=-1");
  });

  it("is stopped when its stream ends without a final event (cancelled on the server)", async () => {
    fakeServer([{ frames: [0, 1], end: "done" }]);
    await expect(read(resumeResponse("resp_1", new AbortController().signal))).rejects.toThrow(AnswerCancelled);
  });

  it("fails at once on the agent's error, and on a connection lost before the server named it", async () => {
    const calls = fakeServer([{ frames: [0, { type: "error", message: "the model failed" }], end: "done" }]);
    await expect(read(startResponse({}, new AbortController().signal, { wait: instantly }))).rejects.toThrow(
      new AgentError("the model failed"),
    );
    expect(calls).toHaveLength(1);
    fakeServer(["network error"]);
    await expect(read(startResponse({}, new AbortController().signal, { wait: instantly }))).rejects.toThrow(TypeError);
    expect(instantly).not.toHaveBeenCalled();
  });

  it("gives up after its reconnections, saying a reload resumes it", async () => {
    fakeServer([{ frames: [0], end: "cut" }, ...Array<Answer>(RECONNECT_DELAYS_MS.length).fill("network error")]);
    await expect(read(startResponse({}, new AbortController().signal, { wait: instantly }))).rejects.toThrow(Disconnected);
    expect(instantly).toHaveBeenCalledTimes(RECONNECT_DELAYS_MS.length);
  });
});
