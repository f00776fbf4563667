import type { ToolPart } from "../types";

/** A tool call and its result, collapsed to one line until opened. */
export function ToolCall({ part }: { part: ToolPart }) {
  const done = part.output !== undefined;
  return (
    <details className="tool">
      <summary>
        <span className="tool-label">{done ? "Used tool" : "Calling tool"}</span>{" "}
        <code>{part.name}</code>
        {!done && <span className="dots" aria-hidden="true" />}
      </summary>
      <div className="tool-body">
        <div className="tool-heading">Arguments</div>
        <pre>{pretty(part.arguments) || "(none)"}</pre>
        {done && (
          <>
            <div className="tool-heading">Result</div>
            <pre>{pretty(part.output ?? "")}</pre>
          </>
        )}
      </div>
    </details>
  );
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
