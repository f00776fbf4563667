import { useRef, useState, type ClipboardEvent, type DragEvent, type FormEvent, type KeyboardEvent, type Ref } from "react";
import { attachment, IMAGE_TYPES, imageFiles, refusal } from "../images";
import type { Protocol } from "../protocols/protocol";
import type { ImageAttachment } from "../types";
import { CloseIcon, ImageIcon, SendIcon, StopIcon } from "./Icons";

interface Props {
  disabled: boolean;
  streaming: boolean;
  images: Protocol["images"];
  onSend(text: string, images: ImageAttachment[]): void;
  onStop(): void;
  ref?: Ref<HTMLTextAreaElement>;
}

/** The message box: Enter sends, Shift+Enter adds a line, Escape stops an answer. Images come by the
 * attach button, by pasting or by dropping; when images cannot be sent, it says why instead. */
export function Composer({ disabled, streaming, images: imageSupport, onSend, onStop, ref }: Props) {
  const [text, setText] = useState("");
  const [images, setImageState] = useState<ImageAttachment[]>([]);
  const attached = useRef<ImageAttachment[]>([]); // the latest list, for reads that finish after a render
  const setImages = (next: ImageAttachment[]) => {
    attached.current = next;
    setImageState(next);
  };
  const [notice, setNotice] = useState<string>();
  const [reading, setReading] = useState(0);
  const picker = useRef<HTMLInputElement>(null);
  const queue = useRef(Promise.resolve()); // images are read one after the other: they stay in the order added
  const canSend = !disabled && !streaming && reading === 0 && (text.trim() !== "" || images.length > 0);

  const submit = (event?: FormEvent) => {
    event?.preventDefault();
    if (!canSend) return;
    onSend(text, images);
    setText("");
    setImages([]);
    setNotice(undefined);
  };

  const add = (files: File[]) => {
    if (!files.length) return;
    if (!imageSupport.supported) {
      setNotice(imageSupport.reason);
      return;
    }
    setReading((n) => n + files.length);
    queue.current = queue.current.then(() => read(files));
  };

  const read = async (files: File[]) => {
    const problems: string[] = [];
    for (const file of files) {
      try {
        const problem = refusal(file, attached.current.length);
        if (problem) problems.push(problem);
        else attached.current = [...attached.current, await attachment(file)];
      } catch (error) {
        problems.push(error instanceof Error ? error.message : String(error));
      } finally {
        setImages(attached.current);
        setReading((n) => n - 1);
      }
    }
    setNotice(problems.length ? [...new Set(problems)].join(" ") : undefined);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === "Enter" && !event.shiftKey && !event.nativeEvent.isComposing) submit(event);
    if (event.key === "Escape" && streaming) onStop();
  };
  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = imageFiles(event.clipboardData);
    if (files.length) {
      event.preventDefault();
      add(files);
    }
  };
  const onDrop = (event: DragEvent<HTMLFormElement>) => {
    const files = imageFiles(event.dataTransfer);
    if (files.length) {
      event.preventDefault();
      add(files);
    }
  };

  return (
    <form className="composer column" onSubmit={submit} onDragOver={(event) => event.preventDefault()} onDrop={onDrop}>
      {(images.length > 0 || reading > 0) && (
        <ul className="attachments" aria-label="Attached images">
          {images.map((image, index) => (
            <li key={image.id}>
              <img src={image.dataUrl} alt={image.name} className="thumbnail" />
              <button
                type="button"
                className="remove-image"
                aria-label={`Remove image ${index + 1}: ${image.name}`}
                onClick={() => setImages(attached.current.filter((i) => i.id !== image.id))}
              >
                <CloseIcon />
              </button>
            </li>
          ))}
          {reading > 0 && (
            <li className="muted" role="status">
              Reading image…
            </li>
          )}
        </ul>
      )}
      <div className="composer-row">
        <button
          type="button"
          className="icon-button"
          aria-label="Attach images"
          title={imageSupport.supported ? "Attach images (or paste them)" : imageSupport.reason}
          disabled={disabled}
          onClick={() => (imageSupport.supported ? picker.current?.click() : setNotice(imageSupport.reason))}
        >
          <ImageIcon />
        </button>
        <input
          ref={picker}
          type="file"
          accept={IMAGE_TYPES.join(",")}
          multiple
          hidden
          tabIndex={-1}
          onChange={(event) => {
            add(Array.from(event.target.files ?? []));
            event.target.value = "";
          }}
        />
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
          onPaste={onPaste}
          disabled={disabled}
        />
        {streaming ? (
          <button type="button" className="icon-button primary" aria-label="Stop" title="Stop" onClick={onStop}>
            <StopIcon />
          </button>
        ) : (
          <button type="submit" className="icon-button primary" aria-label="Send" title="Send" disabled={!canSend}>
            <SendIcon />
          </button>
        )}
      </div>
      {notice && (
        <p className="notice-text" role="alert">
          {notice}{" "}
          <button type="button" className="link-button" onClick={() => setNotice(undefined)}>
            Dismiss
          </button>
        </p>
      )}
      <p id="message-hint" className="hint">
        Enter to send, Shift+Enter for a new line, Escape to stop{imageSupport.supported ? "; paste or drop images" : ""}
      </p>
    </form>
  );
}
