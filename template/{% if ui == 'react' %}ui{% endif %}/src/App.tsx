import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { getAgentInfo, type AgentInfo, type ToolInfo } from "./api/client";
import type { ConversationSummary } from "./api/conversations";
import { isConversation } from "./chat/memory";
import { ServerConversationStore } from "./chat/store";
import { useChat } from "./chat/useChat";
import { useConversations } from "./chat/useConversations";
import { Composer } from "./components/Composer";
import { EmptyState } from "./components/EmptyState";
import { Header } from "./components/Header";
import { MessageList } from "./components/MessageList";
import { Sidebar } from "./components/Sidebar";
import type { Protocol } from "./protocols/protocol";
import { responses } from "./protocols/responses";
import { markdownRenderer } from "./renderer";
import { useNarrow } from "./useNarrow";

type Agent = { info: AgentInfo } | { error: string } | undefined;

const NO_IMAGES_YET: Protocol["images"] = { supported: false, reason: "The agent is not connected yet." };
const SIDEBAR_ID = "conversations";
const store = new ServerConversationStore();

export function App() {
  const [agent, setAgent] = useState<Agent>();
  const ready = agent && "info" in agent ? agent : undefined;
  const conversations = useConversations();
  const chat = useChat({
    store,
    onAnswered: conversations.refresh,
    onRestarted: conversations.forget,
  });
  const input = useRef<HTMLTextAreaElement>(null);

  // The conversation list: beside the chat on a wide screen, a drawer over it on a phone.
  const narrow = useNarrow();
  const [sidebarOpen, setSidebarOpen] = useState(!narrow);
  useEffect(() => setSidebarOpen(!narrow), [narrow]);
  const [opening, setOpening] = useState<{ id: string; error?: string }>();

  // What the agent is (its name, prompts and tools); the page speaks Responses to every task type.
  const load = useCallback(() => {
    setAgent(undefined);
    getAgentInfo()
      .then((info) => setAgent({ info }))
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
    if (narrow) setSidebarOpen(false);
    input.current?.focus();
  };

  const pick = (summary: ConversationSummary) => {
    setOpening({ id: summary.id });
    store
      .open(summary)
      .then((conversation) => {
        chat.open(conversation);
        setOpening(undefined);
        if (narrow) setSidebarOpen(false);
        input.current?.focus();
      })
      .catch((error: unknown) => {
        setOpening({ id: summary.id, error: error instanceof Error ? error.message : String(error) });
      });
  };

  // Closing the drawer gives the focus back to its toggle.
  const closeDrawer = () => {
    setSidebarOpen(false);
    document.querySelector<HTMLElement>(`[aria-controls="${SIDEBAR_ID}"]`)?.focus();
  };

  // Deleting the open conversation leaves a new chat.
  const remove = (summary: ConversationSummary) => {
    if (isConversation(summary, chat.conversation)) chat.reset();
    return conversations.remove(summary);
  };

  return (
    <div className={`app${sidebarOpen ? " sidebar-open" : ""}`}>
      {sidebarOpen && (
        <>
          {narrow && <div className="backdrop" aria-hidden="true" onClick={closeDrawer} />}
          <Sidebar
            id={SIDEBAR_ID}
            list={conversations}
            current={chat.conversation}
            opening={opening?.error ? undefined : opening?.id}
            openError={opening?.error}
            drawer={narrow}
            onPick={pick}
            onDelete={remove}
            onClose={closeDrawer}
          />
        </>
      )}
      <div className="chat">
        <Header
          title={ready?.info.name ?? document.title}
          sidebar={{ id: SIDEBAR_ID, open: sidebarOpen, toggle: () => setSidebarOpen((open) => !open) }}
          canStartOver={chat.turns.length > 0}
          onNewChat={newChat}
        />
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
          images={ready ? responses.images : NO_IMAGES_YET}
          onSend={chat.ask}
          onStop={chat.stop}
        />
        <div id="announcer" className="visually-hidden" aria-live="polite" />
      </div>
    </div>
  );
}
