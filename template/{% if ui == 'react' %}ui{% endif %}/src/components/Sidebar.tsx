import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import type { ConversationSummary } from "../api/conversations";
import { isConversation, type ConversationRef } from "../chat/memory";
import type { ConversationList } from "../chat/useConversations";
import { relativeTime } from "../time";
import { CloseIcon, EditIcon, TrashIcon } from "./Icons";

interface Props {
  id: string;
  list: ConversationList;
  /** The open conversation, marked in the list. */
  current: ConversationRef;
  /** The conversation being opened, if any. */
  opening?: string;
  openError?: string;
  /** A drawer over the page (phone width): it closes once a conversation is picked, and on Escape. */
  drawer: boolean;
  onPick(summary: ConversationSummary): void;
  onDelete(summary: ConversationSummary): Promise<void>;
  onClose(): void;
}

const UNTITLED = "Untitled chat";
const MAX_TITLE = 200;

/** The user's conversations, newest first: pick one to continue it, rename one (Enter saves, Escape
 * cancels), delete one after confirming. */
export function Sidebar({ id, list, current, opening, openError, drawer, onPick, onDelete, onClose }: Props) {
  const [confirming, setConfirming] = useState<string>();
  const [renaming, setRenaming] = useState<string>();
  const [refocus, setRefocus] = useState<string>(); // after a cancelled deletion or a rename: back to its button
  const [now, setNow] = useState(Date.now);
  const nav = useRef<HTMLElement>(null);
  useEffect(() => setNow(Date.now()), [list.conversations]);

  // The drawer takes the focus when it opens: on the open conversation, else the newest.
  useEffect(() => {
    if (!drawer) return;
    const target = ["[aria-current=page]", ".conversation", "button"]
      .map((selector) => nav.current?.querySelector<HTMLElement>(selector))
      .find(Boolean);
    target?.focus();
  }, [drawer]);

  useEffect(() => {
    if (refocus) nav.current?.querySelector<HTMLElement>(refocus)?.focus();
  }, [refocus]);

  const cancel = () => {
    if (confirming) setRefocus(`[data-delete="${CSS.escape(confirming)}"]`);
    setConfirming(undefined);
  };

  const renamed = (summary: ConversationSummary, title?: string) => {
    setRenaming(undefined);
    setRefocus(`[data-rename="${CSS.escape(summary.id)}"]`);
    if (title !== undefined) void list.rename(summary, title);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key !== "Escape") return;
    if (confirming) cancel();
    else if (drawer) onClose();
  };

  const remove = (summary: ConversationSummary) => {
    setConfirming(undefined);
    nav.current?.focus(); // its row goes away
    void onDelete(summary);
  };

  const error = openError ?? list.error;
  return (
    <nav ref={nav} id={id} className="sidebar" aria-label="Conversations" tabIndex={-1} onKeyDown={onKeyDown}>
      <div className="sidebar-head">
        <span className="sidebar-title" aria-hidden="true">
          Chats
        </span>
        {drawer && (
          <button type="button" className="icon-button" aria-label="Close conversations" onClick={onClose}>
            <CloseIcon />
          </button>
        )}
      </div>
      {error && (
        <p className="sidebar-note error-text" role="alert">
          {error}{" "}
          <button type="button" className="link-button" onClick={list.refresh}>
            Try again
          </button>
        </p>
      )}
      {list.conversations === undefined ? (
        !error && <p className="sidebar-note muted">Loading…</p>
      ) : list.conversations.length === 0 ? (
        <p className="sidebar-note muted">No conversations yet.</p>
      ) : (
        <ul className="conversations">
          {list.conversations.map((summary) => {
            const title = summary.title?.trim() || UNTITLED;
            const active = isConversation(summary, current);
            const when = relativeTime(summary.updated_at, now);
            return (
              <li key={summary.id} className={active ? "active" : undefined}>
                {confirming === summary.id ? (
                  <ConfirmDelete title={title} onDelete={() => remove(summary)} onCancel={cancel} />
                ) : renaming === summary.id ? (
                  <RenameField title={title} onDone={(text) => renamed(summary, text)} />
                ) : (
                  <>
                    <button
                      type="button"
                      className="conversation"
                      aria-current={active ? "page" : undefined}
                      aria-busy={opening === summary.id}
                      onClick={() => onPick(summary)}
                    >
                      <span className="conversation-title">{title}</span>
                      <time dateTime={new Date(summary.updated_at * 1000).toISOString()}>
                        <span className="visually-hidden">, </span>
                        {opening === summary.id ? "Opening…" : when}
                      </time>
                    </button>
                    <button
                      type="button"
                      className="icon-button rename-conversation"
                      aria-label={`Rename “${title}”`}
                      title="Rename"
                      data-rename={summary.id}
                      onClick={() => {
                        setRefocus(undefined);
                        setRenaming(summary.id);
                      }}
                    >
                      <EditIcon />
                    </button>
                    <button
                      type="button"
                      className="icon-button delete-conversation"
                      aria-label={`Delete “${title}”`}
                      title="Delete"
                      data-delete={summary.id}
                      onClick={() => {
                        setRefocus(undefined);
                        setConfirming(summary.id);
                      }}
                    >
                      <TrashIcon />
                    </button>
                  </>
                )}
              </li>
            );
          })}
        </ul>
      )}
      {list.hasMore && (
        <button type="button" className="text-button more" onClick={list.more}>
          Show older
        </button>
      )}
    </nav>
  );
}

function ConfirmDelete({ title, onDelete, onCancel }: { title: string; onDelete(): void; onCancel(): void }) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div className="confirm" role="group" aria-label={`Delete “${title}”?`}>
      <span className="confirm-text">Delete this chat?</span>
      <button type="button" className="text-button danger" onClick={onDelete}>
        Delete
      </button>
      <button ref={cancel} type="button" className="text-button" onClick={onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** The title, editable in place: Enter (or leaving the field) saves a changed, non-empty title; Escape
 * cancels. `onDone` gets the new title, or nothing. */
function RenameField({ title, onDone }: { title: string; onDone(title?: string): void }) {
  const field = useRef<HTMLInputElement>(null);
  const done = useRef(false); // Enter or Escape, then the blur of the field going away: once
  useEffect(() => field.current?.select(), []);
  const finish = (save: boolean) => {
    if (done.current) return;
    done.current = true;
    const text = field.current?.value.trim() ?? "";
    onDone(save && text && text !== title ? text : undefined);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === "Enter") {
      event.preventDefault();
      finish(true);
    } else if (event.key === "Escape") {
      event.stopPropagation(); // the drawer stays open
      finish(false);
    }
  };
  return (
    <div className="rename">
      <input
        ref={field}
        className="rename-field"
        aria-label={`Rename “${title}”`}
        aria-describedby="rename-hint"
        defaultValue={title}
        maxLength={MAX_TITLE}
        onKeyDown={onKeyDown}
        onBlur={() => finish(true)}
      />
      <span id="rename-hint" className="visually-hidden">
        Enter saves, Escape cancels.
      </span>
    </div>
  );
}
