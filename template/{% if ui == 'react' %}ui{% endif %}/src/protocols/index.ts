import { chatAgent } from "./chatAgent";
import { chatCompletions } from "./chatCompletions";
import type { Protocol } from "./protocol";
import { responses } from "./responses";

export type { Protocol, StreamParser } from "./protocol";

/** Task types of `GET /agent/info` and the protocol the UI speaks for each. */
export const protocols: Record<string, Protocol> = {
  "agent/v1/responses": responses,
  "agent/v1/chat": chatCompletions,
  "agent/v2/chat": chatAgent,
};

export function protocolFor(taskType: string): Protocol {
  const protocol = protocols[taskType];
  if (!protocol) throw new Error(`This UI does not know the task type "${taskType}".`);
  return protocol;
}
