// The conversation on the page: ask, edit, regenerate, stop, approve or deny a tool call, new chat, open
// another, and feedback.
// Answers run on the server as background responses and stream through an AnswerTransport; the one in
// flight is noted per tab (./pending.ts), so a reload resumes it. The conversation is kept by a
// ConversationStore (both swappable); each request names the conversation so the server remembers it
// (./memory.ts).
import { useCallback, useEffect, useRef, useState } from "react";
import { sendFeedback, type StreamEvent } from "../api/client";
import { AnswerCancelled, Disconnected } from "../api/responses";
import { newId } from "../ids";
import { MAX_REQUEST_BYTES, megabytes } from "../images";
import { responses } from "../protocols/responses";
import type { AssistantTurn, Decision, Feedback, ImageAttachment, Part, Turn } from "../types";
import { change, historyBefore, isStreaming, newQuestion, type Change, type Conversation } from "./conversation";
import { decisionOf, itemsToTurns } from "./items";
import { naming, refFor, requestFor, sameRef, type Asking, type ConversationRef } from "./memory";
import { forgetPending, keepPending, readPending, type PendingAnswer } from "./pending";
import { ServerConversationStore, type ConversationStore } from "./store";
import { backgroundResponses, type AnswerTransport } from "./transport";

export interface Chat {
  turns: Turn[];
  streaming: boolean;
  /** How the open conversation is named to the server. */
  conversation: ConversationRef;
  ask(text: string, images?: ImageAttachment[]): void;
  edit(questionId: string, text: string): void;
  regenerate(): void;
  /** Stops the answer in flight, on the server too. */
  stop(): void;
  reset(): void;
  /** Shows `conversation` (e.g. one from the list) and continues it; stops any answer in flight. */
  open(conversation: Conversation): void;
  /** Approves or denies the tool call `requestId` the last answer paused on; the answer goes on (a new
   * background response, resumed and stopped like any answer). */
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

/** The answer being read: the response that runs it, once the server has named it. */
interface Running {
  answerId: string;
  reading: AbortController;
  responseId?: string;
  /** Stop was asked: the response is cancelled as soon as it has an id. */
  stopping: boolean;
  /** The page goes away: the answer goes on on the server, for a reload to resume. */
  leaving: boolean;
}

/** How long Stop waits for the server to name a response it has just been asked for. */
const STOP_WAIT_MS = 3000;
const defaultStore = new ServerConversationStore();

export function useChat(options: ChatOptions = {}): Chat {
  const store = options.store ?? defaultStore;
  const transport = options.transport ?? backgroundResponses;
  const events = useRef(options);
  events.current = options;
  const [conversation, setConversation] = useState<Conversation>(() => store.create());
  const current = useRef(conversation); // the latest state, for callbacks that outlive a render
  const running = useRef<Running | null>(null);
  const streaming = isStreaming(conversation.turns);

  const showNow = useCallback((next: Conversation) => {
    current.current = next;
    setConversation(next);
  }, []);
  const apply = useCallback(
    (action: Change) => showNow({ ...current.current, turns: change(current.current.turns, action) }),
    [showNow],
  );
  const save = useCallback(() => void store.save(current.current).catch(() => undefined), [store]);

  /** Stops `answer` on the server (once it has an id) and stops reading it. */
  const cancel = useCallback(
    (answer: Running) => {
      answer.stopping = true;
      const id = answer.responseId;
      if (id === undefined) {
        setTimeout(() => answer.reading.abort(), STOP_WAIT_MS); // never named: stop reading anyway
        return;
      }
      answer.reading.abort();
      transport.cancel(id).catch((error: unknown) => {
        const message = `Could not stop the answer on the server: ${messageOf(error)}`;
        apply({ type: "answer", answerId: answer.answerId, patch: { status: "error", error: message } });
      });
    },
    [apply, transport],
  );

  /** Reads answer `answerId` from `open` into the conversation, until it ends, fails or is stopped; an
   * answer that goes on after an approval decision keeps the `earlier` parts it showed before it. */
  const follow = useCallback(
    async (
      answerId: string,
      ref: ConversationRef,
      open: (signal: AbortSignal, onStarted: (id: string) => void) => AsyncIterable<StreamEvent>,
      pending: Omit<PendingAnswer, "responseId"> | PendingAnswer,
      earlier: Part[] = [],
    ) => {
      const patch = (p: Partial<AssistantTurn>) => apply({ type: "answer", answerId, patch: p });
      const answer: Running = {
        answerId,
        reading: new AbortController(),
        responseId: "responseId" in pending ? pending.responseId : undefined,
        stopping: false,
        leaving: false,
      };
      running.current = answer;
      const started = (responseId: string) => {
        answer.responseId = responseId;
        keepPending({ ...pending, responseId });
        if (answer.stopping) cancel(answer);
      };
      const parser = responses.createParser();
      const frames = new FrameBatcher((parts) => patch({ parts: [...earlier, ...parts] }));
      let resumable = false; // the answer goes on on the server: a reload resumes it
      try {
        for await (const event of open(answer.reading.signal, started)) {
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
        resumable = answer.leaving || (error instanceof Disconnected && !answer.stopping);
        if (answer.leaving) return;
        if (answer.stopping || error instanceof AnswerCancelled) patch({ status: "stopped" });
        else patch({ status: "error", error: messageOf(error) });
      } finally {
        if (running.current === answer) running.current = null;
        if (!resumable && answer.responseId) forgetPending(answer.responseId);
        if (!answer.leaving) {
          save();
          events.current.onAnswered?.(ref);
        }
      }
    },
    [apply, cancel, save],
  );

  /** Answer `answerId` goes on after `decision` (a new response: the server runs or declines the call),
   * after the parts it showed up to the decided request. */
  const goOn = useCallback(
    (
      answerId: string,
      decision: Decision,
      ref: ConversationRef,
      open: (signal: AbortSignal, onStarted: (id: string) => void) => AsyncIterable<StreamEvent>,
      pending: Omit<PendingAnswer, "responseId"> | PendingAnswer,
    ) => {
      apply({ type: "decide", answerId, decision });
      const answer = current.current.turns.find((turn) => turn.id === answerId);
      return follow(answerId, ref, open, pending, answer?.role === "assistant" ? answer.parts : []);
    },
    [apply, follow],
  );

  // Reopen the store's current conversation, and resume its answer if one was running; when the page
  // goes away, stop reading (the answer itself goes on, for the next page load).
  useEffect(() => {
    void store.current().then(
      async (kept) => {
        if (!kept || current.current.turns.length) return;
        const pending = readPending();
        if (!pending || !sameRef(pending.ref, kept.ref)) return showNow(kept);
        const { responseId } = pending;
        const asked = await transport.question(responseId).catch(() => undefined);
        if (current.current.turns.length) return; // something else is shown meanwhile
        const open = (signal: AbortSignal) => transport.resume(responseId, signal);
        const decision = decisionOf(asked); // the last answer goes on after the user's approval decision
        const last = kept.turns.at(-1);
        const paused = last?.role === "assistant" && last.parts.some((p) => p.kind === "approval" && p.id === decision?.requestId);
        if (decision && paused) {
          showNow(kept);
          return void goOn(last.id, decision, kept.ref, open, pending);
        }
        const [question] = itemsToTurns([asked]);
        if (question?.role !== "user") {
          forgetPending(responseId); // deleted meanwhile
          return showNow(kept);
        }
        const answerId = newId();
        showNow(kept);
        apply({ type: "resume", question, questionIndex: pending.questionIndex, answerId });
        void follow(answerId, kept.ref, open, pending);
      },
      () => undefined, // not reopened: the page starts a new conversation
    );
    return () => {
      if (!running.current) return;
      running.current.leaving = true;
      running.current.reading.abort();
    };
  }, [apply, follow, goOn, showNow, store, transport]);

  const run = useCallback(
    async (answerId: string, asking: Asking) => {
      const history = historyBefore(current.current.turns, answerId);
      const before = current.current.ref;
      const ref = refFor(before, history, asking);
      if (ref !== before) {
        showNow({ ...current.current, ref });
        save(); // a reload reopens the new conversation
        if (before.kind === "client") events.current.onRestarted?.(before);
      }
      const body = requestFor(history, ref);
      const size = new Blob([JSON.stringify(body)]).size;
      if (size > MAX_REQUEST_BYTES) {
        apply({ type: "answer", answerId, patch: { status: "error", error: tooLarge(size) } });
        return save();
      }
      const questionIndex = history.filter((turn) => turn.role === "user").length - 1;
      await follow(answerId, ref, (signal, started) => transport.start(body, signal, started), { ref, questionIndex });
    },
    [apply, follow, save, showNow, transport],
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
      const { turns, ref } = current.current;
      const answer = turns[turns.length - 1];
      if (answer?.role !== "assistant" || answer.id !== answerId || answer.status !== "done") return;
      if (!answer.parts.some((p) => p.kind === "approval" && p.id === requestId && !p.decision)) return;
      const body = naming(responses.approvalRequest(requestId, approve), ref);
      const questionIndex = turns.filter((turn) => turn.role === "user").length - 1;
      const open = (signal: AbortSignal, started: (id: string) => void) => transport.start(body, signal, started);
      void goOn(answerId, { requestId, approve }, ref, open, { ref, questionIndex });
    },
    [goOn, transport],
  );

  const stop = useCallback(() => {
    if (running.current) cancel(running.current);
  }, [cancel]);

  const show = useCallback(
    (next: Conversation) => {
      if (running.current) cancel(running.current);
      showNow(next);
      void store.save(next).catch(() => undefined);
    },
    [cancel, showNow, store],
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
