// The conversation on the page: ask, edit, regenerate, stop, new chat, open another, and feedback.
// Answers stream through an AnswerTransport; the conversation is kept by a ConversationStore (both
// swappable); each request names the conversation so the server remembers it (./memory.ts).
import { useCallback, useEffect, useRef, useState } from "react";
import { sendFeedback } from "../api/client";
import { newId } from "../ids";
import { MAX_REQUEST_BYTES, megabytes } from "../images";
import type { Protocol } from "../protocols";
import type { ApprovalPart, AssistantTurn, Feedback, ImageAttachment, Part, Turn } from "../types";
import { change, historyBefore, isStreaming, newQuestion, type Change, type Conversation } from "./conversation";
import { naming, refFor, requestFor, type Asking, type ConversationRef } from "./memory";
import { ServerConversationStore, type ConversationStore } from "./store";
import { invocations, type AnswerTransport } from "./transport";

export interface Chat {
  turns: Turn[];
  streaming: boolean;
  /** How the open conversation is named to the server. */
  conversation: ConversationRef;
  ask(text: string, images?: ImageAttachment[]): void;
  edit(questionId: string, text: string): void;
  regenerate(): void;
  stop(): void;
  reset(): void;
  /** Shows `conversation` (e.g. one from the list) and continues it; stops any answer in flight. */
  open(conversation: Conversation): void;
  /** Approves or denies the tool call `requestId` the last answer paused on; the answer goes on. */
  decide(answerId: string, requestId: string, approve: boolean): void;
  rate(answerId: string, rating: Feedback["rating"]): void;
  comment(answerId: string, comment: string): void;
}

export interface ChatOptions {
  store?: ConversationStore;
  transport?: AnswerTransport;
  /** Called when an answer ends (the server has recorded the turn). */
  onAnswered?(conversation: ConversationRef): void;
  /** Called when the conversation continues as a new one on the server (its first question rewritten):
   * `previous` holds only what the page no longer shows. */
  onRestarted?(previous: ConversationRef): void;
}

const defaultStore = new ServerConversationStore();

export function useChat(protocol: Protocol | undefined, options: ChatOptions = {}): Chat {
  const store = options.store ?? defaultStore;
  const transport = options.transport ?? invocations;
  const events = useRef(options);
  events.current = options;
  const [conversation, setConversation] = useState<Conversation>(() => store.create());
  const current = useRef(conversation); // the latest state, for callbacks that outlive a render
  const controller = useRef<AbortController | null>(null);
  const streaming = isStreaming(conversation.turns);

  const apply = useCallback((action: Change) => {
    const next = { ...current.current, turns: change(current.current.turns, action) };
    current.current = next;
    setConversation(next);
  }, []);
  const save = useCallback(() => void store.save(current.current).catch(() => undefined), [store]);

  // Reopen the store's current conversation; stop any stream when the page goes away.
  useEffect(() => {
    void store.current().then((kept) => {
      if (kept && current.current.turns.length === 0) {
        current.current = kept;
        setConversation(kept);
      }
    }, () => undefined); // not reopened: the page starts a new conversation
    return () => controller.current?.abort();
  }, [store]);

  const run = useCallback(
    async (answerId: string, asking: Asking, decision?: Decision) => {
      if (!protocol) return;
      const patch = (p: Partial<AssistantTurn>) => apply({ type: "answer", answerId, patch: p });
      const history = historyBefore(current.current.turns, answerId);
      const before = current.current.ref;
      const ref = decision ? before : refFor(before, history, asking, protocol);
      if (ref !== before) {
        current.current = { ...current.current, ref };
        setConversation(current.current);
        if (before.kind === "client") events.current.onRestarted?.(before);
      }
      const body = decision ? naming(decision.request, ref) : requestFor(protocol, history, ref);
      const earlier = decision?.parts ?? []; // a decided answer goes on after what it showed
      const size = new Blob([JSON.stringify(body)]).size;
      if (size > MAX_REQUEST_BYTES) {
        patch({ status: "error", error: tooLarge(size) });
        return save();
      }
      const abort = new AbortController();
      controller.current = abort;
      const parser = protocol.createParser();
      const frames = new FrameBatcher((parts) => patch({ parts: [...earlier, ...parts] }));
      try {
        for await (const event of transport.stream(body, abort.signal)) {
          if (event.kind === "trace") {
            patch({ traceId: event.traceId });
          } else {
            parser.push(event.chunk);
            frames.set(parser.parts);
          }
        }
        frames.flush();
        patch({ status: "done" });
      } catch (error) {
        frames.flush();
        if (abort.signal.aborted) patch({ status: "stopped" });
        else patch({ status: "error", error: messageOf(error) });
      } finally {
        if (controller.current === abort) controller.current = null;
        save();
        events.current.onAnswered?.(ref);
      }
    },
    [apply, protocol, save, transport],
  );

  const ask = useCallback(
    (text: string, images: ImageAttachment[] = []) => {
      if (isStreaming(current.current.turns) || (!text.trim() && !images.length)) return;
      const answerId = newId();
      apply({ type: "ask", question: newQuestion(newId(), text, images), answerId });
      save();
      void run(answerId, "ask");
    },
    [apply, run, save],
  );

  const edit = useCallback(
    (questionId: string, text: string) => {
      if (isStreaming(current.current.turns)) return;
      const answerId = newId();
      apply({ type: "edit", questionId, text, answerId });
      void run(answerId, "edit");
    },
    [apply, run],
  );

  const regenerate = useCallback(() => {
    const turns = current.current.turns;
    if (isStreaming(turns) || turns[turns.length - 1]?.role !== "assistant") return;
    const answerId = newId();
    apply({ type: "regenerate", answerId });
    void run(answerId, "regenerate");
  }, [apply, run]);

  const decide = useCallback(
    (answerId: string, requestId: string, approve: boolean) => {
      const turns = current.current.turns;
      const answer = turns[turns.length - 1];
      const request = protocol?.approvalRequest?.(requestId, approve);
      if (!request || answer?.role !== "assistant" || answer.id !== answerId || answer.status !== "done") return;
      const decision: ApprovalPart["decision"] = approve ? "approved" : "denied";
      const parts = answer.parts.map((p) => (p.kind === "approval" && p.id === requestId ? { ...p, decision } : p));
      apply({ type: "answer", answerId, patch: { parts, status: "streaming", error: undefined } });
      void run(answerId, "ask", { request, parts });
    },
    [apply, protocol, run],
  );

  const stop = useCallback(() => controller.current?.abort(), []);

  const show = useCallback(
    (next: Conversation) => {
      controller.current?.abort();
      current.current = next;
      setConversation(next);
      void store.save(next).catch(() => undefined);
    },
    [store],
  );
  const reset = useCallback(() => show(store.create()), [show, store]);

  const feedback = useCallback(
    (answerId: string, next: Pick<Feedback, "rating" | "comment">) => {
      const turn = current.current.turns.find((t) => t.id === answerId);
      if (turn?.role !== "assistant" || !turn.traceId || turn.feedback?.saving) return;
      const before = turn.feedback;
      const patch = (feedback: Feedback | undefined) => apply({ type: "answer", answerId, patch: { feedback } });
      const assessmentId = before?.assessmentId;
      patch({ ...next, assessmentId, saving: true });
      sendFeedback(turn.traceId, { ...next, assessmentId })
        .then((id) => patch({ ...next, assessmentId: id, saving: false }))
        .catch((error: unknown) => {
          const message = `Feedback not recorded: ${messageOf(error)}`;
          patch(before ? { ...before, error: message } : { ...next, saving: false, error: message, rating: next.rating });
        })
        .finally(save);
    },
    [apply, save],
  );

  const rate = useCallback(
    (answerId: string, rating: Feedback["rating"]) => {
      const turn = current.current.turns.find((t) => t.id === answerId);
      const comment = turn?.role === "assistant" ? turn.feedback?.comment : undefined;
      feedback(answerId, { rating, comment });
    },
    [feedback],
  );

  const comment = useCallback(
    (answerId: string, text: string) => {
      const turn = current.current.turns.find((t) => t.id === answerId);
      if (turn?.role !== "assistant" || !turn.feedback) return;
      feedback(answerId, { rating: turn.feedback.rating, comment: text.trim() || undefined });
    },
    [feedback],
  );

  return {
    turns: conversation.turns,
    streaming,
    conversation: conversation.ref,
    ask,
    edit,
    regenerate,
    stop,
    reset,
    open: show,
    decide,
    rate,
    comment,
  };
}

/** An answer to an approval request: the request that carries it, and the parts the answer had. */
interface Decision {
  request: Record<string, unknown>;
  parts: Part[];
}

/** Hands on the latest parts at most once per animation frame: a fast stream renders once a frame. */
class FrameBatcher {
  private pending: Part[] | undefined;
  private frame = 0;

  constructor(private readonly deliver: (parts: Part[]) => void) {}

  set(parts: Part[]): void {
    this.pending = parts;
    this.frame ||= requestAnimationFrame(() => this.flush());
  }

  flush(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    if (this.pending) this.deliver(this.pending);
    this.pending = undefined;
  }
}

function tooLarge(bytes: number): string {
  return (
    `This conversation is ${megabytes(bytes)} with its images, over the ${megabytes(MAX_REQUEST_BYTES)} ` +
    "a question may carry. Start a new chat to send more images."
  );
}

function messageOf(error: unknown): string {
  if (error instanceof TypeError) return `Could not reach the agent server (${error.message}).`;
  return error instanceof Error ? error.message : String(error);
}
