import type { AgentInfo } from "../api/client";

interface Props {
  info: AgentInfo;
  onPick(prompt: string): void;
}

/** Before the first question: what the agent is, and questions to start with (app_config.SUGGESTED_PROMPTS). */
export function EmptyState({ info, onPick }: Props) {
  const prompts = info.suggested_prompts ?? [];
  return (
    <div className="column empty">
      <h2>{info.name}</h2>
      {info.description && <p className="description">{info.description}</p>}
      {prompts.length > 0 && (
        <ul className="suggestions" aria-label="Suggested questions">
          {prompts.map((prompt) => (
            <li key={prompt}>
              <button type="button" className="suggestion" onClick={() => onPick(prompt)}>
                {prompt}
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
