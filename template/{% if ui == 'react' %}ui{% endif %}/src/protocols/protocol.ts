import {
  answerText,
  type AssistantTurn,
  type Decision,
  type ImageAttachment,
  type Part,
  type Turn,
  type UserTurn,
} from "../types";

/** How the UI speaks to the agent: the request it sends and the stream it reads. */
export interface Protocol {
  /** Request body for the whole conversation so far (ending with a user turn). */
  buildRequest(history: Turn[]): Record<string, unknown>;
  /** A parser for one streamed answer. */
  createParser(): StreamParser;
  /** Whether its messages carry images; when not, why (shown to the user). */
  images: { supported: true } | { supported: false; reason: string };
  /** The request that answers approval request `requestId` (an `mcp_approval_request` an answer ended with). */
  approvalRequest(requestId: string, approve: boolean): Record<string, unknown>;
}

export interface StreamParser {
  /** Feeds one decoded `data:` frame (trace id and error frames are handled by the caller). */
  push(chunk: unknown): void;
  /** The answer so far; a new array whenever it changed. */
  readonly parts: Part[];
}

// --- helpers -----------------------------------------------------------------------------

/** The turns worth resending: failed answers are shown, not sent back. */
export function sentTurns(history: Turn[]): (UserTurn | AssistantTurn)[] {
  return history.filter((turn) => turn.role === "user" || turn.status !== "error");
}

export interface Message<Content> {
  role: Turn["role"];
  content: Content | string;
  id: string;
}

/** The conversation as messages, each user turn's content built by `userContent`
 * (earlier tool calls and reasoning are not resent: the answer text carries what they found). */
export function messages<Content>(
  history: Turn[],
  userContent: (text: string, images: ImageAttachment[]) => Content,
): Message<Content>[] {
  return sentTurns(history).flatMap((turn): Message<Content>[] => {
    if (turn.role === "user") return [{ role: turn.role, content: userContent(turn.text, turn.images), id: turn.id }];
    const content = answerText(turn);
    return content ? [{ role: turn.role, content, id: turn.id }] : [];
  });
}

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

export function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Keeps an immutable list of parts; every change makes a new array and a new part object. */
export class PartList {
  parts: Part[] = [];
  private counter = 0;

  newId(prefix: string): string {
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /** Appends `delta` to the text part `id` (created at the end if missing). */
  appendText(id: string, delta: string): void {
    this.upsert("text", id, (text) => text + delta);
  }

  /** Sets the full text of part `id` (a final message repeats the streamed deltas). */
  setText(id: string, text: string): void {
    this.upsert("text", id, () => text);
  }

  /** Appends `delta` to the reasoning part `id` (created at the end if missing). */
  appendReasoning(id: string, delta: string): void {
    this.upsert("reasoning", id, (text) => text + delta);
  }

  /** Sets the full text of reasoning part `id` (a finished reasoning item repeats its deltas). */
  setReasoning(id: string, text: string): void {
    this.upsert("reasoning", id, () => text);
  }

  /** The id of the last part if it is of `kind`: where deltas without an id go. */
  last(kind: "text" | "reasoning"): string | undefined {
    const part = this.parts[this.parts.length - 1];
    return part?.kind === kind ? part.id : undefined;
  }

  /** Adds a tool call, or completes the one with the same id. */
  addToolCall(callId: string, name: string, args: string): void {
    const index = this.findTool(callId);
    const current = this.parts[index];
    if (current?.kind === "tool") {
      this.replace(index, { ...current, name: current.name || name, arguments: current.arguments + args });
    } else {
      this.parts = [...this.parts, { kind: "tool", callId, name, arguments: args }];
    }
  }

  /** Records a tool result on its call (by id, else the last unanswered call of that name). */
  setToolOutput(output: string, callId?: string, name?: string): void {
    let index = callId ? this.findTool(callId) : -1;
    if (index < 0) {
      index = this.parts.findLastIndex((p) => p.kind === "tool" && p.output === undefined && (!name || p.name === name));
    }
    const current = this.parts[index];
    if (current?.kind === "tool") {
      this.replace(index, { ...current, output: (current.output ?? "") + output });
    } else {
      const id = callId ?? this.newId("call");
      this.parts = [...this.parts, { kind: "tool", callId: id, name: name ?? "tool", arguments: "", output }];
    }
  }

  /** Adds a tool call that waits for the user's decision (once: a repeated request is the same one). */
  addApproval(id: string, name: string, args: string, server: string): void {
    if (this.parts.some((p) => p.kind === "approval" && p.id === id)) return;
    this.parts = [...this.parts, { kind: "approval", id, name, arguments: args, server }];
  }

  /** Records the user's decision on its approval request, if it is there. */
  decide({ requestId, approve }: Decision): void {
    const index = this.parts.findIndex((p) => p.kind === "approval" && p.id === requestId);
    const current = this.parts[index];
    if (current?.kind === "approval") this.replace(index, { ...current, decision: approve ? "approved" : "denied" });
  }

  private upsert(kind: "text" | "reasoning", id: string, update: (text: string) => string): void {
    const index = this.parts.findIndex((p) => p.kind === kind && p.id === id);
    const current = this.parts[index];
    if (current && current.kind === kind) {
      const text = update(current.text);
      if (text !== current.text) this.replace(index, { ...current, text });
    } else {
      this.parts = [...this.parts, { kind, id, text: update("") }];
    }
  }

  private findTool(callId: string): number {
    return this.parts.findIndex((p) => p.kind === "tool" && p.callId === callId);
  }

  private replace(index: number, part: Part): void {
    this.parts = this.parts.map((p, i) => (i === index ? part : p));
  }
}
