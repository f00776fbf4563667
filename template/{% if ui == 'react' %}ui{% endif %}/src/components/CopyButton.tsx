import { useEffect, useState } from "react";
import { announce, copyText } from "../clipboard";
import { CheckIcon, CopyIcon } from "./Icons";

/** An icon button that copies `text`, and shows (and says) that it did. */
export function CopyButton({ text, label }: { text: () => string; label: string }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const timer = window.setTimeout(() => setCopied(false), 2000);
    return () => window.clearTimeout(timer);
  }, [copied]);

  const copy = () =>
    copyText(text()).then(
      () => {
        setCopied(true);
        announce("Copied to the clipboard.");
      },
      () => announce("Could not copy."),
    );

  return (
    <button type="button" className="icon-button" aria-label={label} title={label} onClick={() => void copy()}>
      {copied ? <CheckIcon /> : <CopyIcon />}
    </button>
  );
}
