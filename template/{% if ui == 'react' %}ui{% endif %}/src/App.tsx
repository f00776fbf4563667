import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { getAgentInfo, type AgentInfo, type ToolInfo } from "./api/client";
import { useChat } from "./chat/useChat";
import { Composer } from "./components/Composer";
import { EmptyState } from "./components/EmptyState";
import { Header } from "./components/Header";
import { MessageList } from "./components/MessageList";
import { protocolFor, type Protocol } from "./protocols";
import { markdownRenderer } from "./renderer";

type Agent = { info: AgentInfo; protocol: Protocol } | { error: string } | undefined;

const NO_IMAGES_YET: Protocol["images"] = { supported: false, reason: "The agent is not connected yet." };

export function App() {
  const [agent, setAgent] = useState<Agent>();
  const ready = agent && "protocol" in agent ? agent : undefined;
  const chat = useChat(ready?.protocol);
  const input = useRef<HTMLTextAreaElement>(null);

  // The task type decides how the UI talks to the agent.
  const load = useCallback(() => {
    setAgent(undefined);
    getAgentInfo()
      .then((info) => setAgent({ info, protocol: protocolFor(info.task_type) }))
      .catch((error: unknown) => setAgent({ error: error instanceof Error ? error.message : String(error) }));
  }, []);
  useEffect(load, [load]);
  useEffect(() => void markdownRenderer.load(), []); // ready before the first answer, after the first paint

  // Give the message box focus once it can be used.
  useEffect(() => {
    if (ready) input.current?.focus();
  }, [ready]);

  const tools = useMemo(
    () => new Map<string, ToolInfo>((ready?.info.tools ?? []).map((tool) => [tool.name, tool])),
    [ready],
  );

  const newChat = () => {
    chat.reset();
    input.current?.focus();
  };

  return (
    <div className="app">
      <Header title={ready?.info.name ?? document.title} canStartOver={chat.turns.length > 0} onNewChat={newChat} />
      <main className="main">
        {agent && "error" in agent ? (
          <div className="column notice error" role="alert">
            <p>
              <strong>Could not load the agent's description</strong> from <code>/agent/info</code>: {agent.error}
            </p>
            <button type="button" className="text-button" onClick={load}>
              Try again
            </button>
          </div>
        ) : chat.turns.length === 0 ? (
          ready ? (
            <EmptyState info={ready.info} onPick={(prompt) => chat.ask(prompt)} />
          ) : (
            <p className="column notice muted" role="status">
              Connecting to the agent…
            </p>
          )
        ) : (
          <MessageList chat={chat} tools={tools} />
        )}
      </main>
      <Composer
        ref={input}
        disabled={!ready}
        streaming={chat.streaming}
        images={ready?.protocol.images ?? NO_IMAGES_YET}
        onSend={chat.ask}
        onStop={chat.stop}
      />
      <div id="announcer" className="visually-hidden" aria-live="polite" />
    </div>
  );
}
