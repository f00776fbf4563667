import { useId, useState, type FormEvent, type KeyboardEvent } from "react";
import type { ToolInfo } from "../api/client";
import { answerText, type AssistantTurn, type Feedback as FeedbackState, type Part, type ToolPart, type UserTurn } from "../types";
import { CopyButton } from "./CopyButton";
import { Feedback } from "./Feedback";
import { EditIcon, RegenerateIcon } from "./Icons";
import { Markdown } from "./Markdown";
import { Reasoning } from "./Reasoning";
import { Approval } from "./Approval";
import { ToolSteps } from "./ToolSteps";

interface QuestionProps {
  turn: UserTurn;
  canEdit: boolean;
  onEdit(text: string): void;
}

/** A question: its text and images; Edit rewrites it and asks again (what followed is replaced). */
export function Question({ turn, canEdit, onEdit }: QuestionProps) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(turn.text);
  const editorId = useId();

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!draft.trim() && !turn.images.length) return;
    setEditing(false);
    onEdit(draft);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
    if (event.key === "Escape") setEditing(false);
  };

  return (
    <article className="message user" aria-label="You">
      {turn.images.length > 0 && (
        <div className="sent-images">
          {turn.images.map((image) => (
            <img key={image.id} src={image.dataUrl} alt={image.name} className="thumbnail" />
          ))}
        </div>
      )}
      {editing ? (
        <form className="edit-form" onSubmit={submit}>
          <label htmlFor={editorId} className="visually-hidden">
            Edit your message
          </label>
          <textarea
            id={editorId}
            value={draft}
            autoFocus
            onChange={(event) => setDraft(event.target.value)}
            onKeyDown={onKeyDown}
          />
          <div className="form-buttons">
            <button type="submit" className="text-button primary">
              Send
            </button>
            <button type="button" className="text-button" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          {turn.text && <div className="bubble">{turn.text}</div>}
          <div className="actions">
            <CopyButton text={() => turn.text} label="Copy message" />
            {canEdit && (
              <button
                type="button"
                className="icon-button"
                aria-label="Edit message"
                title="Edit message"
                onClick={() => {
                  setDraft(turn.text);
                  setEditing(true);
                }}
              >
                <EditIcon />
              </button>
            )}
          </div>
        </>
      )}
    </article>
  );
}

interface AnswerProps {
  turn: AssistantTurn;
  isLast: boolean;
  canRegenerate: boolean;
  tools: Map<string, ToolInfo>;
  onRegenerate(): void;
  onDecide(requestId: string, approve: boolean): void;
  onRate(rating: FeedbackState["rating"]): void;
  onComment(comment: string): void;
}

/** An answer: reasoning, tool steps and text in the order they came; Copy, Regenerate, feedback. */
export function Answer({ turn, isLast, canRegenerate, tools, onRegenerate, onDecide, onRate, onComment }: AnswerProps) {
  const finished = turn.status !== "streaming";
  const text = answerText(turn);
  return (
    <article className="message assistant" aria-label="Agent" aria-busy={!finished}>
      {turn.parts.length === 0 && !finished ? (
        <span className="dots muted" role="status" aria-label="Thinking" />
      ) : (
        groups(turn.parts).map((group, index, all) =>
          Array.isArray(group) ? (
            <ToolSteps key={group[0]!.callId} steps={group} tools={tools} />
          ) : group.kind === "approval" ? (
            <Approval
              key={group.id}
              part={group}
              info={tools.get(group.name)}
              canDecide={isLast && turn.status === "done"}
              onDecide={(approve) => onDecide(group.id, approve)}
            />
          ) : group.kind === "reasoning" ? (
            <Reasoning key={group.id} part={group} thinking={!finished && index === all.length - 1} />
          ) : (
            <Markdown key={group.id} text={group.text} />
          ),
        )
      )}
      {turn.status === "stopped" && <p className="muted">Stopped.</p>}
      {turn.status === "error" && (
        <div className="error" role="alert">
          <strong>Error:</strong> {turn.error}
        </div>
      )}
      {finished && (
        <div className="actions">
          {text && <CopyButton text={() => text} label="Copy answer" />}
          {isLast && canRegenerate && (
            <button
              type="button"
              className={turn.status === "done" ? "icon-button" : "text-button"}
              aria-label={turn.status === "done" ? "Regenerate answer" : undefined}
              title={turn.status === "done" ? "Regenerate answer" : undefined}
              onClick={onRegenerate}
            >
              {turn.status === "done" ? <RegenerateIcon /> : "Retry"}
            </button>
          )}
          {turn.status === "done" && turn.traceId && <Feedback turn={turn} onRate={onRate} onComment={onComment} />}
        </div>
      )}
    </article>
  );
}

/** Parts in order, consecutive tool calls gathered into one list of steps. */
function groups(parts: Part[]): (Exclude<Part, ToolPart> | ToolPart[])[] {
  const result: (Exclude<Part, ToolPart> | ToolPart[])[] = [];
  for (const part of parts) {
    const last = result[result.length - 1];
    if (part.kind !== "tool") result.push(part);
    else if (Array.isArray(last)) last.push(part);
    else result.push([part]);
  }
  return result;
}
