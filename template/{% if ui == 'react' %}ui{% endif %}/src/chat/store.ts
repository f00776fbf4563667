// Where conversations are kept. Today: in this page's memory (a reload starts afresh). The page only
// talks to this interface, so a store backed by the server's conversation API replaces it without
// touching the rest: `current()` reopens the conversation after a reload, `save()` keeps each change.
import { newId } from "../ids";
import type { Conversation } from "./conversation";

export interface ConversationStore {
  /** The conversation to show when the page opens; none: start a new one. */
  current(): Promise<Conversation | undefined>;
  /** A new, empty conversation (it becomes the current one once saved). */
  create(): Conversation;
  /** Keeps the conversation as it is now (called when a question is asked, and when an answer ends). */
  save(conversation: Conversation): Promise<void>;
}

export class MemoryConversationStore implements ConversationStore {
  private kept: Conversation | undefined;

  async current(): Promise<Conversation | undefined> {
    return this.kept;
  }

  create(): Conversation {
    return { id: newId(), turns: [] };
  }

  async save(conversation: Conversation): Promise<void> {
    this.kept = conversation;
  }
}
