import { afterEach, describe, expect, it, vi } from "vitest";
import { AgentError, ConnectionLost, errorMessage, sendFeedback, streamFrames, traceIdOf } from "../api/client";
import { fakeFetch } from "./replay";

async function drain(body: Record<string, unknown> = {}) {
  const events = [];
  const init = { method: "POST", body: JSON.stringify(body) };
  for await (const event of streamFrames("/responses", init, new AbortController().signal)) events.push(event);
  return events;
}

afterEach(() => vi.unstubAllGlobals());

describe("streamFrames", () => {
  it("posts the body with the trace id header and yields chunks and the trace id", async () => {
    const fetch = fakeFetch('data: {"x": 1}\n\ndata: {"trace_id": "tr-1"}\n\ndata: [DONE]\n\n');
    vi.stubGlobal("fetch", fetch);
    expect(await drain({ input: [], stream: true })).toEqual([
      { kind: "chunk", chunk: { x: 1 } },
      { kind: "trace", traceId: "tr-1" },
    ]);
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("/responses");
    expect(init?.method).toBe("POST");
    expect(new Headers(init?.headers).get("x-mlflow-return-trace-id")).toBe("true");
    expect(JSON.parse(init?.body as string)).toEqual({ input: [], stream: true });
  });

  it("throws the message of a mid-stream error frame", async () => {
    vi.stubGlobal("fetch", fakeFetch('data: {"x": 1}\n\ndata: {"error": {"message": "boom", "type": "E"}}\n\ndata: [DONE]\n\n'));
    await expect(drain()).rejects.toThrow(new AgentError("boom"));
  });

  it("throws the JSON error of a non-2xx answer", async () => {
    const body = JSON.stringify({ error: { message: "bad request body", type: "invalid_request_error" } });
    vi.stubGlobal("fetch", fakeFetch(body, 100, { status: 400, headers: { "content-type": "application/json" } }));
    await expect(drain()).rejects.toThrow("bad request body");
  });

  it("reports FastAPI's own error details", async () => {
    vi.stubGlobal("fetch", fakeFetch('{"detail": "Not Found"}', 100, { status: 404 }));
    await expect(drain()).rejects.toThrow("Not Found");
  });

  it("throws when the stream ends without [DONE]", async () => {
    vi.stubGlobal("fetch", fakeFetch('data: {"x": 1}\n\n'));
    await expect(drain()).rejects.toThrow(ConnectionLost);
  });
});

describe("sendFeedback", () => {
  it("posts the rating, the comment and the assessment to update, and returns the assessment's id", async () => {
    const fetch = fakeFetch('{"trace_id": "tr-1", "assessment_id": "a-1", "recorded": true}', 100, {
      headers: { "content-type": "application/json" },
    });
    vi.stubGlobal("fetch", fetch);
    expect(await sendFeedback("tr-1", { rating: "down", comment: "too terse", assessmentId: "a-0" })).toBe("a-1");
    const [url, init] = fetch.mock.calls[0]!;
    expect(url).toBe("/api/feedback");
    expect(JSON.parse(init?.body as string)).toEqual({
      trace_id: "tr-1",
      rating: "down",
      comment: "too terse",
      assessment_id: "a-0",
    });
  });
});

describe("errors the page explains", () => {
  it("a request over the server's size limit", async () => {
    vi.stubGlobal("fetch", fakeFetch("<html>Request Entity Too Large</html>", 100, { status: 413 }));
    await expect(drain()).rejects.toThrow(/too large for the server: send fewer or smaller images/);
  });
});

describe("frame helpers", () => {
  it("reads error frames of both shapes", () => {
    expect(errorMessage({ error: { message: "m" } })).toBe("m");
    expect(errorMessage({ error: "plain" })).toBe("plain");
    expect(errorMessage({ type: "error", message: "responses error" })).toBe("responses error");
    expect(errorMessage({ type: "response.output_text.delta", delta: "x" })).toBeUndefined();
  });

  it("recognizes only the bare trace id frame", () => {
    expect(traceIdOf({ trace_id: "tr-1" })).toBe("tr-1");
    expect(traceIdOf({ trace_id: "tr-1", delta: {} })).toBeUndefined();
  });
});
