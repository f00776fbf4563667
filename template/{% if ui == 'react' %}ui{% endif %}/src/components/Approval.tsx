import type { ToolInfo } from "../api/client";
import { pretty, toolLabel } from "../tools";
import type { ApprovalPart } from "../types";

interface Props {
  part: ApprovalPart;
  info?: ToolInfo;
  /** Whether the page can send a decision now (the last answer, not streaming). */
  canDecide: boolean;
  onDecide(approve: boolean): void;
}

const VERDICT = { approved: "Approved", denied: "Denied" } as const;

/** A tool call waiting for the user: what would run, where and with what; Approve runs it, Deny does not. */
export function Approval({ part, info, canDecide, onDecide }: Props) {
  const label = toolLabel(part.name, info);
  const args = pretty(part.arguments);
  const title = `approval-${part.id}`;
  return (
    <section className={`approval ${part.decision ?? "waiting"}`} aria-labelledby={title}>
      <p id={title} className="approval-title">
        {part.decision ? `${VERDICT[part.decision]}: ` : "Run this tool? "}
        <strong>{label}</strong>
        {part.server && part.server !== "local" && <span className="step-server">{part.server}</span>}
      </p>
      <p className="step-meta">
        <code>{part.name}</code>
        {info?.description && info.description !== label && <> · {info.description}</>}
      </p>
      <pre tabIndex={0}>{args === "{}" || !args ? "(no arguments)" : args}</pre>
      {!part.decision && (
        <div className="approval-actions">
          <button
            type="button"
            className="text-button primary"
            aria-label={`Approve ${label}`}
            disabled={!canDecide}
            onClick={() => onDecide(true)}
          >
            Approve
          </button>
          <button
            type="button"
            className="text-button"
            aria-label={`Deny ${label}`}
            disabled={!canDecide}
            onClick={() => onDecide(false)}
          >
            Deny
          </button>
        </div>
      )}
    </section>
  );
}
