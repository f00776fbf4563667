import { describe, expect, it } from "vitest";
import { chatAgent } from "../protocols/chatAgent";
import { chatCompletions } from "../protocols/chatCompletions";
import { protocolFor } from "../protocols";
import { responses } from "../protocols/responses";
import type { Turn } from "../types";
import chatAgentReasoningStream from "./fixtures/chat_agent-reasoning.sse?raw";
import chatAgentStream from "./fixtures/chat_agent.sse?raw";
import chatCompletionsReasoningStream from "./fixtures/chat_completions-reasoning.sse?raw";
import chatCompletionsStream from "./fixtures/chat_completions.sse?raw";
import openaiToolsStream from "./fixtures/chat_completions-openai-tools.sse?raw";
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

describe("protocolFor", () => {
  it("maps every task type of /agent/info", () => {
    expect(protocolFor("agent/v1/responses")).toBe(responses);
    expect(protocolFor("agent/v1/chat")).toBe(chatCompletions);
    expect(protocolFor("agent/v2/chat")).toBe(chatAgent);
    expect(() => protocolFor("agent/v9/unknown")).toThrow(/task type/);
  });
});

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

  it("chat completions: whole tool call, tool result by name, then text", async () => {
    const result = await replay(chatCompletions, chatCompletionsStream, chunkSize);
    expect(result.traceId).toBe(TRACE);
    expect(result.parts).toEqual([toolPart, { kind: "text", id: "text_1", text: `Turn 2: current_time returned ${TIME}.` }]);
  });

  it("chat completions: OpenAI-style tool-call deltas joined by index", async () => {
    const result = await replay(chatCompletions, openaiToolsStream, chunkSize);
    expect(result.error).toBe(undefined);
    expect(result.parts).toEqual([
      { kind: "tool", callId: "call_a", name: "lookup", arguments: '{"city": "Paris"}', output: "sunny" },
      { kind: "text", id: "text_1", text: "It is sunny." },
    ]);
  });

  it.each([
    ["responses", responses, responsesReasoningStream],
    ["chat completions", chatCompletions, chatCompletionsReasoningStream],
    ["chat agent", chatAgent, chatAgentReasoningStream],
  ])("%s: reasoning before each step, in order, apart from the answer", async (_, protocol, recorded) => {
    const result = await replay(protocol, recorded, chunkSize);
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

  it("chat agent: deltas sharing an id build one message", async () => {
    const result = await replay(chatAgent, chatAgentStream, chunkSize);
    expect(result).toEqual({
      traceId: TRACE,
      parts: [toolPart, { kind: "text", id: "msg_1", text: `Turn 1: current_time returned ${TIME}.` }],
    });
  });
});

describe("images go as the task type's image parts", () => {
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

  it("chat completions: text and image_url", () => {
    expect(chatCompletions.buildRequest(withImage)).toEqual({
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "what is this?" },
            { type: "image_url", image_url: { url: image.dataUrl } },
          ],
        },
      ],
      stream: true,
    });
  });

  it("chat agent: none, and the page says why", () => {
    expect(chatAgent.images).toEqual({ supported: false, reason: expect.stringMatching(/ChatAgent.*text only/) });
    expect(responses.images.supported && chatCompletions.images.supported).toBe(true);
  });
});

describe("request bodies carry the history (text only, failed answers left out)", () => {
  it("responses", () => {
    expect(responses.buildRequest(history)).toEqual({
      input: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "Turn 1" },
        { role: "user", content: "again" },
      ],
      stream: true,
    });
  });

  it("chat completions", () => {
    expect(chatCompletions.buildRequest(history)).toEqual({
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "Turn 1" },
        { role: "user", content: "again" },
      ],
      stream: true,
    });
  });

  it("chat agent: every message has its id", () => {
    expect(chatAgent.buildRequest(history)).toEqual({
      messages: [
        { role: "user", content: "hi", id: "u1" },
        { role: "assistant", content: "Turn 1", id: "a1" },
        { role: "user", content: "again", id: "u2" },
      ],
      stream: true,
    });
  });
});
