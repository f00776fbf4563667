// Server-sent events: splits a byte stream into the payloads of its `data:` fields.

/** Incremental parser: feed it text as it arrives, get the complete events' data back. */
export class SseDecoder {
  private buffer = "";

  push(text: string): string[] {
    this.buffer += text.replace(/\r\n?/g, "\n");
    const events: string[] = [];
    let end: number;
    while ((end = this.buffer.indexOf("\n\n")) >= 0) {
      const data = dataOf(this.buffer.slice(0, end));
      this.buffer = this.buffer.slice(end + 2);
      if (data !== undefined) events.push(data);
    }
    return events;
  }

  /** Whatever is left when the stream ends (a last event without its blank line). */
  flush(): string[] {
    const data = dataOf(this.buffer);
    this.buffer = "";
    return data === undefined ? [] : [data];
  }
}

function dataOf(block: string): string | undefined {
  const lines = block
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(line.startsWith("data: ") ? 6 : 5));
  return lines.length ? lines.join("\n") : undefined;
}

/** Yields the data of each event of a streamed response body. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new SseDecoder();
  const text = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield* decoder.push(text.decode(value, { stream: true }));
    }
    yield* decoder.push(text.decode());
    yield* decoder.flush();
  } finally {
    await reader.cancel().catch(() => undefined); // frees the connection after an early stop
  }
}
