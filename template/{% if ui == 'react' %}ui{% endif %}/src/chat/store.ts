// Where conversations are kept: in the server's conversation store (agent_server.routes.conversations),
// which records every turn the page sends with the conversation's id. The page only talks to this
// interface: `current()` reopens the open conversation after a reload, `open()` one from the list,
// `save()` notes which conversation is open (the server already has its turns).
import { getConversation, listConversations, listItems, type ConversationSummary } from "../api/conversations";
import { newId } from "../ids";
import type { Conversation } from "./conversation";
import { itemsToTurns } from "./items";
import { isConversation, newRef, refOf, type ConversationRef } from "./memory";

export interface ConversationStore {
  /** The conversation to show when the page opens; none: start a new one. */
  current(): Promise<Conversation | undefined>;
  /** A new, empty conversation (it becomes the current one once saved). */
  create(): Conversation;
  /** Keeps the conversation as it is now (called when a question is asked, and when an answer ends). */
  save(conversation: Conversation): Promise<void>;
}

/** Keeps conversations in the page's memory only (a reload starts afresh): for tests and previews. */
export class MemoryConversationStore implements ConversationStore {
  private kept: Conversation | undefined;

  async current(): Promise<Conversation | undefined> {
    return this.kept;
  }

  create(): Conversation {
    return { id: newId(), turns: [], ref: newRef() };
  }

  async save(conversation: Conversation): Promise<void> {
    this.kept = conversation;
  }
}

const OPEN_KEY = "agent-chat:open-conversation";
/** How far down the list `current()` looks for the open conversation (it is near the top). */
const LOOKUP_LIMIT = 100;

export class ServerConversationStore implements ConversationStore {
  constructor(private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem"> = sessionStorage) {}

  async current(): Promise<Conversation | undefined> {
    const ref = this.openRef();
    if (!ref) return undefined;
    const summary = await find(ref);
    if (!summary) {
      this.storage.removeItem(OPEN_KEY); // deleted meanwhile
      return undefined;
    }
    return this.open(summary);
  }

  create(): Conversation {
    return { id: newId(), turns: [], ref: newRef() };
  }

  async save(conversation: Conversation): Promise<void> {
    if (conversation.turns.length) this.storage.setItem(OPEN_KEY, JSON.stringify(conversation.ref));
    else this.storage.removeItem(OPEN_KEY);
  }

  /** A listed conversation with its turns, to continue. */
  async open(summary: ConversationSummary): Promise<Conversation> {
    const turns = itemsToTurns(await listItems(summary.id));
    return { id: newId(), turns, ref: refOf(summary) };
  }

  private openRef(): ConversationRef | undefined {
    try {
      const ref = JSON.parse(this.storage.getItem(OPEN_KEY) ?? "null") as ConversationRef | null;
      if (ref?.kind === "client" && typeof ref.key === "string") return ref;
      if (ref?.kind === "stored" && typeof ref.id === "string") return ref;
    } catch {
      // not ours: ignored
    }
    return undefined;
  }
}

async function find(ref: ConversationRef): Promise<ConversationSummary | undefined> {
  if (ref.kind === "stored") return getConversation(ref.id);
  const { conversations } = await listConversations(0, LOOKUP_LIMIT);
  return conversations.find((summary) => isConversation(summary, ref));
}
