import type { ReasoningPart } from "../types";
import { Markdown } from "./Markdown";

/** The model's reasoning, collapsed: "Thinking…" while it streams, "Reasoning" once the answer moved on. */
export function Reasoning({ part, thinking }: { part: ReasoningPart; thinking: boolean }) {
  return (
    <details className="reasoning">
      <summary>
        {thinking ? (
          <>
            Thinking<span className="dots" aria-hidden="true" />
          </>
        ) : (
          "Reasoning"
        )}
      </summary>
      <Markdown text={part.text} className="markdown reasoning-text" />
    </details>
  );
}
