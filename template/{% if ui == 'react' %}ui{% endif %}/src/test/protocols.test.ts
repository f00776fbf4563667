import { describe, expect, it } from "vitest";
import { responses } from "../protocols/responses";
import type { Turn } from "../types";
import responsesErrorStream from "./fixtures/responses-error.sse?raw";
import responsesReasoningStream from "./fixtures/responses-reasoning.sse?raw";
import responsesStream from "./fixtures/responses.sse?raw";
import { replay } from "./replay";

const TIME = "2026-11-25T06:45:00+00:00";
const TRACE = "tr-0123456789abcdef0123456789abcdef";
const toolPart = { kind: "tool", callId: "call_1", name: "current_time", arguments: "{}", output: TIME };

const history: Turn[] = [
  { role: "user", id: "u1", text: "hi", images: [] },
  {
    role: "assistant",
    id: "a1",
    status: "done",
    parts: [
      { kind: "tool", callId: "c", name: "current_time", arguments: "{}", output: TIME },
      { kind: "text", id: "m", text: "Turn 1" },
    ],
  },
  { role: "assistant", id: "a2", status: "error", parts: [] },
  { role: "user", id: "u2", text: "again", images: [] },
];
const image = { id: "i1", name: "cat.png", dataUrl: "data:image/png;base64,iVBORw0KGgo=", bytes: 30 };
const withImage: Turn[] = [{ role: "user", id: "u1", text: "what is this?", images: [image] }];
const PLAN_TOOL = "**Planning** turn 1: a tool can tell me, so I call it first.";
const PLAN_ANSWER = "**Planning** turn 1: I have what I need to answer.";
const ANSWER = `Turn 1: current_time returned ${TIME}.`;

describe.each([1, 7, 4096])("recorded streams read %i bytes at a time", (chunkSize) => {
  it("responses: tool call, result, then text without doubling the final message", async () => {
    const result = await replay(responses, responsesStream, chunkSize);
    expect(result).toEqual({
      traceId: TRACE,
      parts: [toolPart, { kind: "text", id: "msg_1", text: `Turn 1: current_time returned ${TIME}.` }],
    });
  });

  it("responses: a mid-stream error keeps the text so far", async () => {
    const result = await replay(responses, responsesErrorStream, chunkSize);
    expect(result.error).toBe("The model endpoint failed: stand-in error");
    expect(result.parts).toEqual([toolPart, { kind: "text", id: "msg_1", text: "Turn 1: " }]);
  });

  it("responses: reasoning before each step, in order, apart from the answer", async () => {
    const result = await replay(responses, responsesReasoningStream, chunkSize);
    expect(result.error).toBeUndefined();
    expect(result.traceId).toBe(TRACE);
    const parts = result.parts.map((p) =>
      p.kind === "tool" ? ["tool", p.name, p.output] : p.kind === "approval" ? [p.kind, p.name] : [p.kind, p.text],
    );
    expect(parts).toEqual([
      ["reasoning", PLAN_TOOL],
      ["tool", "current_time", TIME],
      ["reasoning", PLAN_ANSWER],
      ["text", ANSWER],
    ]);
  });
});

describe("images go as input_image parts", () => {
  it("responses: input_text and input_image", () => {
    expect(responses.buildRequest(withImage)).toEqual({
      input: [
        {
          role: "user",
          content: [
            { type: "input_text", text: "what is this?" },
            { type: "input_image", image_url: image.dataUrl, detail: "auto" },
          ],
        },
      ],
      stream: true,
    });
  });
});

describe("request bodies carry the history (text only, failed answers left out)", () => {
  it("as Responses input", () => {
    expect(responses.buildRequest(history)).toEqual({
      input: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "Turn 1" },
        { role: "user", content: "again" },
      ],
      stream: true,
    });
  });
});
