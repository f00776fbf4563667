import { useId, useState, type FormEvent } from "react";
import type { AssistantTurn, Feedback as FeedbackState } from "../types";
import { ThumbIcon } from "./Icons";

interface Props {
  turn: AssistantTurn;
  onRate(rating: FeedbackState["rating"]): void;
  onComment(comment: string): void;
}

/** Thumbs up/down and an optional comment, recorded on the answer's MLflow trace (one assessment). */
export function Feedback({ turn, onRate, onComment }: Props) {
  const feedback = turn.feedback;
  const recorded = feedback && !feedback.saving && !feedback.error && feedback.assessmentId;
  const [writing, setWriting] = useState(false);
  const [draft, setDraft] = useState("");
  const commentId = useId();

  const pressed = (rating: FeedbackState["rating"]) =>
    feedback?.rating === rating && (feedback.saving || Boolean(feedback.assessmentId));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    onComment(draft);
    setWriting(false);
  };

  return (
    <div className="feedback">
      <div className="feedback-row" role="group" aria-label="Rate this answer">
        {(["up", "down"] as const).map((rating) => (
          <button
            key={rating}
            type="button"
            className="icon-button"
            aria-label={rating === "up" ? "Good answer" : "Bad answer"}
            title={rating === "up" ? "Good answer" : "Bad answer"}
            aria-pressed={pressed(rating)}
            disabled={feedback?.saving}
            onClick={() => onRate(rating)}
          >
            <ThumbIcon down={rating === "down"} />
          </button>
        ))}
        {recorded && !writing && (
          <>
            <span className="muted" role="status">
              {feedback.comment ? "Thanks for the feedback and the comment." : "Thanks for the feedback."}
            </span>
            <button
              type="button"
              className="link-button"
              onClick={() => {
                setDraft(feedback.comment ?? "");
                setWriting(true);
              }}
            >
              {feedback.comment ? "Edit comment" : "Add a comment"}
            </button>
          </>
        )}
        {feedback?.error && (
          <span className="error-text" role="alert">
            {feedback.error}
          </span>
        )}
      </div>
      {writing && (
        <form className="comment-form" onSubmit={submit}>
          <label htmlFor={commentId}>What was good or bad about this answer? (optional)</label>
          <textarea
            id={commentId}
            rows={2}
            value={draft}
            maxLength={5000}
            autoFocus
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={(event) => event.key === "Escape" && setWriting(false)}
          />
          <div className="form-buttons">
            <button type="submit" className="text-button primary">
              Send comment
            </button>
            <button type="button" className="text-button" onClick={() => setWriting(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
