import { useEffect, useRef } from "react";
import type { ToolInfo } from "../api/client";
import type { Chat } from "../chat/useChat";
import { Answer, Question } from "./Message";

interface Props {
  chat: Chat;
  tools: Map<string, ToolInfo>;
}

export function MessageList({ chat, tools }: Props) {
  const list = useRef<HTMLDivElement>(null);
  const pinned = useRef(true);
  const { turns, streaming } = chat;

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
        {turns.map((turn, i) =>
          turn.role === "user" ? (
            <Question key={turn.id} turn={turn} canEdit={!streaming} onEdit={(text) => chat.edit(turn.id, text)} />
          ) : (
            <Answer
              key={turn.id}
              turn={turn}
              isLast={i === turns.length - 1}
              canRegenerate={!streaming}
              tools={tools}
              onRegenerate={chat.regenerate}
              onDecide={(requestId, approve) => chat.decide(turn.id, requestId, approve)}
              onRate={(rating) => chat.rate(turn.id, rating)}
              onComment={(comment) => chat.comment(turn.id, comment)}
            />
          ),
        )}
      </div>
    </div>
  );
}
