import type { AssistantTurn, Turn } from "../types";
import { Feedback } from "./Feedback";
import { Markdown } from "./Markdown";
import { ToolCall } from "./ToolCall";

interface Props {
  turn: Turn;
  isLast: boolean;
  onRetry(): void;
  onRate(rating: "up" | "down"): void;
}

export function Message({ turn, isLast, onRetry, onRate }: Props) {
  if (turn.role === "user") {
    return (
      <article className="message user" aria-label="You">
        <div className="bubble">{turn.text}</div>
      </article>
    );
  }
  return (
    <article className="message assistant" aria-label="Agent">
      <Answer turn={turn} />
      {turn.status === "stopped" && <p className="muted">Stopped.</p>}
      {turn.status === "error" && (
        <div className="error" role="alert">
          <strong>Error:</strong> {turn.error}
        </div>
      )}
      <div className="actions">
        {isLast && (turn.status === "error" || turn.status === "stopped") && (
          <button type="button" className="text-button" onClick={onRetry}>
            Retry
          </button>
        )}
        {turn.status === "done" && turn.traceId && <Feedback turn={turn} onRate={onRate} />}
      </div>
    </article>
  );
}

function Answer({ turn }: { turn: AssistantTurn }) {
  if (turn.parts.length === 0 && turn.status === "streaming") {
    return <span className="dots" aria-label="Thinking" />;
  }
  return (
    <>
      {turn.parts.map((part) =>
        part.kind === "text" ? (
          <Markdown key={part.id} text={part.text} />
        ) : (
          <ToolCall key={part.callId} part={part} />
        ),
      )}
    </>
  );
}
