// The user's conversations for the sidebar: listed from the server, newest first, refreshed when an
// answer ends, more on demand, renamed and deleted.
import { useCallback, useEffect, useRef, useState } from "react";
import {
  deleteConversation,
  listConversations,
  renameConversation,
  type ConversationSummary,
} from "../api/conversations";
import { isConversation, type ConversationRef } from "./memory";

const PAGE = 30;

export interface ConversationList {
  /** Undefined until the first page arrives. */
  conversations: ConversationSummary[] | undefined;
  hasMore: boolean;
  error?: string;
  refresh(): void;
  more(): void;
  remove(summary: ConversationSummary): Promise<void>;
  /** Gives `summary` the title `title` (shown at once; the list is reloaded if the server refuses). */
  rename(summary: ConversationSummary, title: string): Promise<void>;
  /** Deletes the listed conversation `ref` names, if any (nothing to show for it any more). */
  forget(ref: ConversationRef): void;
}

export function useConversations(): ConversationList {
  const [conversations, setConversations] = useState<ConversationSummary[]>();
  const [hasMore, setHasMore] = useState(false);
  const [error, setError] = useState<string>();
  const shown = useRef(PAGE); // how many the user has asked to see
  const latest = useRef(conversations);
  latest.current = conversations;
  const generation = useRef(0); // a slower, older answer never overwrites a newer one

  const load = useCallback(async (offset: number, limit: number) => {
    const asked = ++generation.current;
    try {
      const page = await listConversations(offset, limit);
      if (asked !== generation.current) return;
      setConversations((before) => [...(offset ? (before ?? []).slice(0, offset) : []), ...page.conversations]);
      setHasMore(page.hasMore);
      setError(undefined);
    } catch (failure) {
      if (asked === generation.current) setError(messageOf(failure));
    }
  }, []);

  const refresh = useCallback(() => void load(0, shown.current), [load]);
  useEffect(refresh, [refresh]);

  const more = useCallback(() => {
    const offset = latest.current?.length ?? 0;
    shown.current = offset + PAGE;
    void load(offset, PAGE);
  }, [load]);

  const remove = useCallback(
    async (summary: ConversationSummary) => {
      try {
        await deleteConversation(summary.id);
        setConversations((before) => before?.filter((c) => c.id !== summary.id));
        setError(undefined);
      } catch (failure) {
        setError(messageOf(failure));
      }
      refresh();
    },
    [refresh],
  );

  const rename = useCallback(
    async (summary: ConversationSummary, title: string) => {
      setConversations((before) => before?.map((c) => (c.id === summary.id ? { ...c, title } : c)));
      try {
        const renamed = await renameConversation(summary.id, title);
        setConversations((before) => before?.map((c) => (c.id === summary.id ? renamed : c)));
        setError(undefined);
      } catch (failure) {
        setError(messageOf(failure));
        refresh();
      }
    },
    [refresh],
  );

  const forget = useCallback(
    (ref: ConversationRef) => {
      const summary = latest.current?.find((c) => isConversation(c, ref));
      if (summary) void remove(summary);
    },
    [remove],
  );

  return { conversations, hasMore, error, refresh, more, remove, rename, forget };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
