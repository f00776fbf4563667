// One conversation with an app through the Vercel AI SDK and Databricks' provider, as
// Databricks' own chat UI talks to an agent; prints JSON for tests/test_clients.py.
//
//   node ai_sdk.mjs --base-url http://127.0.0.1:8000 --kind responses|chatCompletions|chatAgent
//        [--route /invocations] [--model NAME] [--prompt TEXT] [--local-tools]
//        [--header name=value ...]
//
// --route sends the kind's requests to that path of the app instead of the provider's own
// (`formatUrl`, as the chat UI's API-proxy mode does). --local-tools turns the provider's
// `useRemoteToolCalling` off (the chat UI turns it on). Each run does `generateText`,
// `streamText`, and a second `generateText` turn that sends the first answer back as history;
// trace ids are read where Databricks' chat UI reads them (a raw `{"trace_id"}` stream frame,
// `metadata.trace_id` of a whole response).
// The process exits 0 whatever the app answered: failures are in the JSON, for the test to show.

import { parseArgs } from "node:util";
import { createDatabricksProvider } from "@databricks/ai-sdk-provider";
import { generateText, streamText } from "ai";

const { values: args } = parseArgs({
  options: {
    "base-url": { type: "string" },
    kind: { type: "string" },
    route: { type: "string" },
    model: { type: "string", default: "agent" },
    prompt: { type: "string", default: "What time is it?" },
    "follow-up": { type: "string", default: "And now?" },
    "local-tools": { type: "boolean", default: false },
    header: { type: "string", multiple: true, default: [] },
  },
});
const KINDS = ["responses", "chatCompletions", "chatAgent"];
if (!args["base-url"] || !KINDS.includes(args.kind)) {
  console.error(`usage: node ai_sdk.mjs --base-url URL --kind ${KINDS.join("|")} [--route PATH]`);
  process.exit(2);
}

const requested = [];
const provider = createDatabricksProvider({
  baseURL: args["base-url"],
  useRemoteToolCalling: !args["local-tools"],
  headers: Object.fromEntries(args.header.map((pair) => pair.split(/=(.*)/s).slice(0, 2))),
  formatUrl: ({ baseUrl, path }) => `${baseUrl}${args.route ?? path}`,
  fetch: async (url, init) => {
    requested.push(String(url));
    return fetch(url, init);
  },
});
const model = provider[args.kind](args.model);
const TIMEOUT_MS = 60_000;

function describeError(error) {
  if (error == null) return null;
  if (typeof error !== "object") return { name: typeof error, message: String(error) };
  return {
    name: error.name ?? error.constructor?.name ?? "Error",
    message: String(error.message ?? JSON.stringify(error)),
    ...(error.statusCode != null && { status: error.statusCode }),
    ...(error.responseBody != null && { body: String(error.responseBody).slice(0, 2000) }),
    ...(error.cause?.message != null && { cause: String(error.cause.message) }),
  };
}

// The parts a test asserts on, without the SDK's bookkeeping (ids, metadata).
function describePart(part) {
  switch (part.type) {
    case "text":
      return { type: "text", text: part.text };
    case "tool-call":
      return {
        type: part.type,
        toolCallId: part.toolCallId,
        toolName: part.toolName,
        input: part.input,
        providerExecuted: part.providerExecuted ?? false,
        dynamic: part.dynamic ?? false,
        invalid: part.invalid ?? false,
      };
    case "tool-result":
      return {
        type: part.type,
        toolCallId: part.toolCallId,
        toolName: part.toolName,
        output: part.output,
        providerExecuted: part.providerExecuted ?? false,
      };
    case "tool-error":
      return { type: part.type, toolCallId: part.toolCallId, toolName: part.toolName, error: describeError(part.error) };
    case "error":
      return { type: part.type, error: describeError(part.error) };
    default:
      return { type: part.type };
  }
}

const TOOL_PARTS = new Set(["tool-call", "tool-result", "tool-error"]);

async function generate(messages) {
  try {
    const result = await generateText({ model, messages, abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
    return {
      text: result.text,
      finishReason: result.finishReason,
      toolParts: result.content.filter((part) => TOOL_PARTS.has(part.type)).map(describePart),
      warnings: result.warnings ?? [],
      traceIds: [result.response.body?.metadata?.trace_id].filter(Boolean),
      error: null,
      messages: result.response.messages,
    };
  } catch (error) {
    const failed = { text: null, finishReason: null, toolParts: [], warnings: [], traceIds: [] };
    return { ...failed, error: describeError(error), messages: [] };
  }
}

async function stream(messages) {
  const errors = [];
  const parts = [];
  const traceIds = [];
  let text = "";
  let finishReason = null;
  try {
    const result = streamText({
      model,
      messages,
      abortSignal: AbortSignal.timeout(TIMEOUT_MS),
      includeRawChunks: true, // the chat UI reads MLflow's `{"trace_id": ...}` frame from these
      onError: () => {}, // errors are read from the stream's parts below
    });
    for await (const part of result.fullStream) {
      if (part.type === "text-delta") text += part.text;
      else if (part.type === "error") errors.push(describeError(part.error));
      else if (part.type === "finish") finishReason = part.finishReason;
      else if (part.type === "raw" && part.rawValue?.trace_id) traceIds.push(part.rawValue.trace_id);
      if (TOOL_PARTS.has(part.type)) parts.push(describePart(part));
    }
  } catch (error) {
    errors.push(describeError(error));
  }
  return { text, finishReason, toolParts: parts, traceIds, errors };
}

const question = [{ role: "user", content: args.prompt }];
const first = await generate(question);
const streamed = await stream(question);
const followUp = first.error
  ? null
  : await generate([...question, ...first.messages, { role: "user", content: args["follow-up"] }]);
const { messages: _history, ...generated } = first;
if (followUp) delete followUp.messages;

console.log(JSON.stringify({ kind: args.kind, requested, generate: generated, stream: streamed, followUp }, null, 2));
