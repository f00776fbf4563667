import { useCallback, useEffect, useRef, useState } from "react";
import { getAgentInfo, type AgentInfo } from "./api/client";
import { Composer } from "./components/Composer";
import { MessageList } from "./components/MessageList";
import { protocolFor, type Protocol } from "./protocols";
import { useChat } from "./useChat";

type Agent = { info: AgentInfo; protocol: Protocol } | { error: string } | undefined;

export function App() {
  const [agent, setAgent] = useState<Agent>();
  const chat = useChat(agent && "protocol" in agent ? agent.protocol : undefined);
  const input = useRef<HTMLTextAreaElement>(null);

  // The task type decides how the UI talks to the agent.
  const load = useCallback(() => {
    setAgent(undefined);
    getAgentInfo()
      .then((info) => setAgent({ info, protocol: protocolFor(info.task_type) }))
      .catch((error: unknown) => setAgent({ error: error instanceof Error ? error.message : String(error) }));
  }, []);
  useEffect(load, [load]);

  // Give the message box focus once it can be used.
  useEffect(() => {
    if (agent && "info" in agent) input.current?.focus();
  }, [agent]);

  const newChat = () => {
    chat.reset();
    input.current?.focus();
  };

  return (
    <div className="app">
      <header className="header">
        <h1>{document.title}</h1>
        <button type="button" className="text-button" onClick={newChat} disabled={chat.turns.length === 0}>
          New chat
        </button>
      </header>
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
          <div className="column notice empty">
            <p>{agent ? `Ask ${agent.info.name} something.` : "Connecting to the agent…"}</p>
          </div>
        ) : (
          <MessageList turns={chat.turns} streaming={chat.streaming} onRetry={chat.retry} onRate={chat.rate} />
        )}
      </main>
      <Composer
        ref={input}
        disabled={!agent || "error" in agent}
        streaming={chat.streaming}
        onSend={chat.send}
        onStop={chat.stop}
      />
    </div>
  );
}
