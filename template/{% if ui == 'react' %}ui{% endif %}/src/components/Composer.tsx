import { useState, type FormEvent, type KeyboardEvent, type Ref } from "react";
import { SendIcon, StopIcon } from "./Icons";

interface Props {
  disabled: boolean;
  streaming: boolean;
  onSend(text: string): void;
  onStop(): void;
  ref?: Ref<HTMLTextAreaElement>;
}

/** The message box: Enter sends, Shift+Enter adds a line; Stop (or Escape) while an answer streams. */
export function Composer({ disabled, streaming, onSend, onStop, ref }: Props) {
  const [text, setText] = useState("");

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (disabled || streaming || !text.trim()) return;
    onSend(text);
    setText("");
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
    if (event.key === "Escape" && streaming) onStop();
  };

  return (
    <form className="composer column" onSubmit={submit}>
      <label htmlFor="message" className="visually-hidden">
        Message
      </label>
      <textarea
        id="message"
        ref={ref}
        rows={1}
        value={text}
        placeholder="Ask something…"
        aria-describedby="message-hint"
        onChange={(event) => setText(event.target.value)}
        onKeyDown={onKeyDown}
        disabled={disabled}
      />
      <p id="message-hint" className="hint">
        Enter to send, Shift+Enter for a new line, Escape to stop
      </p>
      {streaming ? (
        <button type="button" className="icon-button primary" aria-label="Stop" onClick={onStop}>
          <StopIcon />
        </button>
      ) : (
        <button type="submit" className="icon-button primary" aria-label="Send" disabled={disabled || !text.trim()}>
          <SendIcon />
        </button>
      )}
    </form>
  );
}
