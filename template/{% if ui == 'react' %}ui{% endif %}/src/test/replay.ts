// Replays a recorded SSE stream through the real client and a protocol's parser.
import { vi } from "vitest";
import { streamFrames } from "../api/client";
import type { Protocol } from "../protocols/protocol";
import type { Part } from "../types";

/** A fetch that answers with `body`, cut into pieces of `chunkSize` bytes (frames split anywhere). */
export function fakeFetch(body: string, chunkSize = 7, init: ResponseInit = {}) {
  const bytes = new TextEncoder().encode(body);
  return vi.fn(async (_url: string, _init?: RequestInit) => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += chunkSize) controller.enqueue(bytes.slice(i, i + chunkSize));
        controller.close();
      },
    });
    return new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" }, ...init });
  });
}

export interface Replay {
  parts: Part[];
  traceId?: string;
  error?: string;
}

export async function replay(protocol: Protocol, recorded: string, chunkSize = 7): Promise<Replay> {
  vi.stubGlobal("fetch", fakeFetch(recorded, chunkSize));
  const parser = protocol.createParser();
  const result: Replay = { parts: [] };
  try {
    for await (const event of streamFrames("/responses", {}, new AbortController().signal)) {
      if (event.kind === "trace") result.traceId = event.traceId;
      else parser.push(event.chunk);
    }
  } catch (error) {
    result.error = (error as Error).message;
  } finally {
    vi.unstubAllGlobals();
  }
  result.parts = parser.parts;
  return result;
}
