import { useEffect, useRef } from "react";
import type { Turn } from "../types";
import { Message } from "./Message";

interface Props {
  turns: Turn[];
  streaming: boolean;
  onRetry(): void;
  onRate(turnId: string, rating: "up" | "down"): void;
}

export function MessageList({ turns, streaming, onRetry, onRate }: Props) {
  const list = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);

  // Follow the stream unless the user scrolled up to read.
  useEffect(() => {
    const el = list.current;
    if (el && pinned.current) el.scrollTop = el.scrollHeight;
  }, [turns]);

  const onScroll = () => {
    const el = list.current;
    if (el) pinned.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  };

  return (
    <div ref={list} className="messages" onScroll={onScroll}>
      <div className="column" role="log" aria-live="polite" aria-busy={streaming} aria-label="Conversation">
        {turns.map((turn, i) => (
          <Message
            key={turn.id}
            turn={turn}
            isLast={i === turns.length - 1}
            onRetry={onRetry}
            onRate={(rating) => onRate(turn.id, rating)}
          />
        ))}
      </div>
    </div>
  );
}
