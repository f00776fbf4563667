import type { ToolInfo } from "../api/client";
import { isNotRun, isToolError, pretty, toolLabel } from "../tools";
import type { ToolPart } from "../types";
import { CheckIcon, ErrorIcon, ToolIcon } from "./Icons";

interface Props {
  steps: ToolPart[];
  tools: Map<string, ToolInfo>;
}

/** Consecutive tool calls as numbered steps, each collapsed to one line: what ran, where, how it went. */
export function ToolSteps({ steps, tools }: Props) {
  return (
    <ol className="steps" aria-label={steps.length === 1 ? "Tool step" : `${steps.length} tool steps`}>
      {steps.map((step) => (
        <li key={step.callId}>
          <ToolStep step={step} info={tools.get(step.name)} />
        </li>
      ))}
    </ol>
  );
}

function ToolStep({ step, info }: { step: ToolPart; info?: ToolInfo }) {
  const running = step.output === undefined;
  const failed = isToolError(step.output);
  const skipped = isNotRun(step.output);
  const label = toolLabel(step.name, info);
  const status = running ? "running" : failed ? "failed" : skipped ? "not run" : "done";
  const args = pretty(step.arguments);
  return (
    <details className={`step ${status.replace(" ", "-")}`}>
      <summary>
        <span className="step-icon" aria-hidden="true">
          {running || skipped ? <ToolIcon /> : failed ? <ErrorIcon /> : <CheckIcon />}
        </span>
        <span className="step-label">{label}</span>
        {info?.server && <span className="step-server">{info.server}</span>}
        <span className={running ? "step-status dots" : "step-status"}>{status}</span>
      </summary>
      <div className="step-body">
        <p className="step-meta">
          <code>{step.name}</code>
          {info?.description && info.description !== label && <> · {info.description}</>}
        </p>
        <div className="step-heading">Arguments</div>
        <pre tabIndex={0}>{args === "{}" || !args ? "(none)" : args}</pre>
        {!running && (
          <>
            <div className="step-heading">{failed ? "Error" : skipped ? "Why" : "Result"}</div>
            <pre tabIndex={0} className={failed ? "step-error" : undefined}>
              {pretty(step.output ?? "")}
            </pre>
          </>
        )}
      </div>
    </details>
  );
}
