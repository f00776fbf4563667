import { answerText, type Part, type Turn } from "../types";

/** How the UI speaks one task type: the request it sends and the stream it reads. */
export interface Protocol {
  /** Request body for the whole conversation so far (ending with a user turn). */
  buildRequest(history: Turn[]): Record<string, unknown>;
  /** A parser for one streamed answer. */
  createParser(): StreamParser;
}

export interface StreamParser {
  /** Feeds one decoded `data:` frame (trace id and error frames are handled by the caller). */
  push(chunk: unknown): void;
  /** The answer so far; a new array whenever it changed. */
  readonly parts: Part[];
}

// --- helpers shared by the protocols -----------------------------------------------------

/** The conversation as text messages with the turns' ids (earlier tool calls are not resent). */
export function textMessages(history: Turn[]): { role: Turn["role"]; content: string; id: string }[] {
  return history.flatMap((turn) => {
    const content = turn.role === "user" ? turn.text : answerText(turn);
    return content ? [{ role: turn.role, content, id: turn.id }] : [];
  });
}

/** The same without ids, for the task types whose messages carry none. */
export function plainMessages(history: Turn[]): { role: Turn["role"]; content: string }[] {
  return textMessages(history).map(({ role, content }) => ({ role, content }));
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
    this.upsertText(id, (text) => text + delta);
  }

  /** Sets the full text of part `id` (a final message repeats the streamed deltas). */
  setText(id: string, text: string): void {
    this.upsertText(id, () => text);
  }

  /** The last part if it is text: where unnamed deltas go. */
  lastText(): string | undefined {
    const last = this.parts[this.parts.length - 1];
    return last?.kind === "text" ? last.id : undefined;
  }

  /** Adds a tool call, or completes the one with the same id. */
  addToolCall(callId: string, name: string, args: string): void {
    const index = this.findTool(callId);
    const current = this.parts[index];
    if (current?.kind === "tool") {
      this.replace(index, {
        ...current,
        name: current.name || name,
        arguments: current.arguments + args,
      });
    } else {
      this.parts = [...this.parts, { kind: "tool", callId, name, arguments: args }];
    }
  }

  /** Records a tool result on its call (by id, else the last unanswered call of that name). */
  setToolOutput(output: string, callId?: string, name?: string): void {
    let index = callId ? this.findTool(callId) : -1;
    if (index < 0) {
      index = this.parts.findLastIndex(
        (p) => p.kind === "tool" && p.output === undefined && (!name || p.name === name),
      );
    }
    const current = this.parts[index];
    if (current?.kind === "tool") {
      this.replace(index, { ...current, output: (current.output ?? "") + output });
    } else {
      const id = callId ?? this.newId("call");
      this.parts = [...this.parts, { kind: "tool", callId: id, name: name ?? "tool", arguments: "", output }];
    }
  }

  private upsertText(id: string, update: (text: string) => string): void {
    const index = this.parts.findIndex((p) => p.kind === "text" && p.id === id);
    const current = this.parts[index];
    if (current?.kind === "text") {
      const text = update(current.text);
      if (text !== current.text) this.replace(index, { ...current, text });
    } else {
      this.parts = [...this.parts, { kind: "text", id, text: update("") }];
    }
  }

  private findTool(callId: string): number {
    return this.parts.findIndex((p) => p.kind === "tool" && p.callId === callId);
  }

  private replace(index: number, part: Part): void {
    this.parts = this.parts.map((p, i) => (i === index ? part : p));
  }
}
