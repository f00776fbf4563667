import { describe, expect, it } from "vitest";
import { SseDecoder } from "../api/sse";

describe("SseDecoder", () => {
  it("joins frames split across reads", () => {
    const decoder = new SseDecoder();
    expect(decoder.push('data: {"a"')).toEqual([]);
    expect(decoder.push(': 1}\n')).toEqual([]);
    expect(decoder.push("\ndata: [DONE]\n\n")).toEqual(['{"a": 1}', "[DONE]"]);
  });

  it("handles CRLF, comments, other fields and multi-line data", () => {
    const decoder = new SseDecoder();
    const text = ": keep-alive\r\n\r\nevent: message\r\nid: 3\r\ndata: line 1\r\ndata:line 2\r\n\r\n";
    expect(decoder.push(text)).toEqual(["line 1\nline 2"]);
  });

  it("flushes a last frame without its blank line", () => {
    const decoder = new SseDecoder();
    expect(decoder.push("data: [DONE]")).toEqual([]);
    expect(decoder.flush()).toEqual(["[DONE]"]);
  });
});
