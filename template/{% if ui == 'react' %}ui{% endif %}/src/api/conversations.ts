// The server's conversation store (agent_server.routes.conversations): the signed-in user's
// conversations, their items, renaming and deleting one. Only this user's conversations are ever listed.
import { AgentError } from "./client";

/** One entry of `GET /conversations` (times in seconds since the epoch). */
export interface ConversationSummary {
  id: string;
  title: string | null;
  created_at: number;
  updated_at: number;
  metadata: Record<string, string>;
}

export interface ConversationPage {
  conversations: ConversationSummary[];
  hasMore: boolean;
}

const ITEMS_PAGE = 100;
/** A conversation longer than this many items is cut (the newest kept), so opening one never hangs. */
export const MAX_ITEMS = 2000;

/** The user's conversations, most recently used first. */
export async function listConversations(offset = 0, limit = 30): Promise<ConversationPage> {
  const body = (await getJson(`/conversations?limit=${limit}&offset=${offset}`)) as {
    data: ConversationSummary[];
    has_more: boolean;
  };
  return { conversations: body.data, hasMore: body.has_more };
}

export async function getConversation(id: string): Promise<ConversationSummary | undefined> {
  const response = await fetch(`/conversations/${encodeURIComponent(id)}`);
  if (response.status === 404) return undefined;
  if (!response.ok) throw await failure(response, "load the conversation");
  return (await response.json()) as ConversationSummary;
}

/** Every item of a conversation, oldest first (paged through; at most MAX_ITEMS, the newest). */
export async function listItems(id: string): Promise<unknown[]> {
  const items: unknown[] = [];
  let after: string | null = null;
  for (;;) {
    const query = `order=desc&limit=${ITEMS_PAGE}` + (after ? `&after=${encodeURIComponent(after)}` : "");
    const page = (await getJson(`/conversations/${encodeURIComponent(id)}/items?${query}`)) as {
      data: unknown[];
      has_more: boolean;
      last_id: string | null;
    };
    items.push(...page.data);
    if (!page.has_more || !page.last_id || items.length >= MAX_ITEMS) break;
    after = page.last_id;
  }
  return items.reverse();
}

export async function deleteConversation(id: string): Promise<void> {
  const response = await fetch(`/conversations/${encodeURIComponent(id)}`, { method: "DELETE" });
  if (!response.ok && response.status !== 404) throw await failure(response, "delete the conversation");
}

/** Gives the conversation a title of the user's choosing (kept: later answers do not change it). */
export async function renameConversation(id: string, title: string): Promise<ConversationSummary> {
  const response = await fetch(`/conversations/${encodeURIComponent(id)}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ title }),
  });
  if (!response.ok) throw await failure(response, "rename the conversation");
  return (await response.json()) as ConversationSummary;
}

async function getJson(path: string): Promise<unknown> {
  const response = await fetch(path);
  if (!response.ok) throw await failure(response, "load the conversations");
  return response.json();
}

async function failure(response: Response, what: string): Promise<AgentError> {
  const text = await response.text().catch(() => "");
  let detail = text.slice(0, 200);
  try {
    const body = JSON.parse(text) as { detail?: unknown; error?: { message?: unknown } };
    const message = body.error?.message ?? body.detail;
    if (typeof message === "string") detail = message;
  } catch {
    // not JSON: the text as it is
  }
  return new AgentError(`Could not ${what}: ${response.status} ${detail}`.trim());
}
