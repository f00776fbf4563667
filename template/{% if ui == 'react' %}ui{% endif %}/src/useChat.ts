// Conversation state: sends the history, streams the answer in, and handles stop, retry and feedback.
import { useCallback, useEffect, useRef, useState } from "react";
import { sendFeedback, streamInvocation } from "./api/client";
import { newId } from "./ids";
import type { Protocol } from "./protocols";
import type { AssistantTurn, Turn } from "./types";

export interface Chat {
  turns: Turn[];
  streaming: boolean;
  send(text: string): void;
  stop(): void;
  retry(): void;
  reset(): void;
  rate(turnId: string, rating: "up" | "down"): void;
}

export function useChat(protocol: Protocol | undefined): Chat {
  const [turns, setTurns] = useState<Turn[]>([]);
  const controller = useRef<AbortController | null>(null);
  const last = turns[turns.length - 1];
  const streaming = last?.role === "assistant" && last.status === "streaming";

  // Stop any stream when the page goes away.
  useEffect(() => () => controller.current?.abort(), []);

  const update = useCallback((id: string, patch: Partial<AssistantTurn>) => {
    setTurns((all) => all.map((t) => (t.id === id && t.role === "assistant" ? { ...t, ...patch } : t)));
  }, []);

  const run = useCallback(
    async (history: Turn[]) => {
      if (!protocol) return;
      const answer: AssistantTurn = { role: "assistant", id: newId(), parts: [], status: "streaming" };
      setTurns([...history, answer]);
      const abort = new AbortController();
      controller.current = abort;
      // Failed answers are shown, not resent.
      const sent = history.filter((t) => t.role === "user" || t.status !== "error");
      const parser = protocol.createParser();
      try {
        for await (const event of streamInvocation(protocol.buildRequest(sent), abort.signal)) {
          if (event.kind === "trace") {
            update(answer.id, { traceId: event.traceId });
          } else {
            parser.push(event.chunk);
            update(answer.id, { parts: parser.parts });
          }
        }
        update(answer.id, { status: "done" });
      } catch (error) {
        if (abort.signal.aborted) update(answer.id, { status: "stopped" });
        else update(answer.id, { status: "error", error: messageOf(error) });
      } finally {
        if (controller.current === abort) controller.current = null;
      }
    },
    [protocol, update],
  );

  const send = useCallback(
    (text: string) => {
      if (streaming || !text.trim()) return;
      void run([...turns, { role: "user", id: newId(), text: text.trim() }]);
    },
    [run, streaming, turns],
  );

  const stop = useCallback(() => controller.current?.abort(), []);

  const retry = useCallback(() => {
    if (streaming || last?.role !== "assistant") return;
    void run(turns.slice(0, -1));
  }, [last, run, streaming, turns]);

  const reset = useCallback(() => {
    controller.current?.abort();
    setTurns([]);
  }, []);

  const rate = useCallback(
    (turnId: string, rating: "up" | "down") => {
      const turn = turns.find((t) => t.id === turnId);
      if (turn?.role !== "assistant" || !turn.traceId) return;
      update(turnId, { feedback: rating, feedbackError: undefined });
      sendFeedback(turn.traceId, rating).catch((error: unknown) =>
        update(turnId, { feedback: undefined, feedbackError: `Feedback not recorded: ${messageOf(error)}` }),
      );
    },
    [turns, update],
  );

  return { turns, streaming, send, stop, retry, reset, rate };
}

function messageOf(error: unknown): string {
  if (error instanceof TypeError) return `Could not reach the agent server (${error.message}).`;
  return error instanceof Error ? error.message : String(error);
}
