import type { AssistantTurn } from "../types";
import { ThumbIcon } from "./Icons";

interface Props {
  turn: AssistantTurn;
  onRate(rating: "up" | "down"): void;
}

/** Thumbs up/down, recorded on the answer's MLflow trace. */
export function Feedback({ turn, onRate }: Props) {
  return (
    <div className="feedback" role="group" aria-label="Rate this answer">
      <button
        type="button"
        className="icon-button"
        aria-label="Good answer"
        aria-pressed={turn.feedback === "up"}
        onClick={() => onRate("up")}
      >
        <ThumbIcon />
      </button>
      <button
        type="button"
        className="icon-button"
        aria-label="Bad answer"
        aria-pressed={turn.feedback === "down"}
        onClick={() => onRate("down")}
      >
        <ThumbIcon down />
      </button>
      {turn.feedback && <span className="muted">Thanks for the feedback.</span>}
      {turn.feedbackError && <span className="error-text">{turn.feedbackError}</span>}
    </div>
  );
}
