import { useEffect, useMemo, useSyncExternalStore, type MouseEvent } from "react";
import { announce, copyText } from "../clipboard";
import { highlighterVersion, loadHighlighter, subscribeHighlighter } from "../highlight";
import { hasCodeBlock, renderMarkdown } from "../markdown";

/** Markdown as safe HTML; its code blocks' Copy buttons work, and they are highlighted once the
 * highlighter (loaded with the first code block) is there. */
export function Markdown({ text, className = "markdown" }: { text: string; className?: string }) {
  const version = useSyncExternalStore(subscribeHighlighter, highlighterVersion);
  // `version` changes once, when the highlighter arrives: the same text then renders highlighted.
  const html = useMemo(() => renderMarkdown(text), [text, version]);
  const code = hasCodeBlock(html);
  useEffect(() => {
    if (code) void loadHighlighter();
  }, [code]);

  const onClick = (event: MouseEvent<HTMLDivElement>) => {
    const button = (event.target as Element).closest("button.copy-code");
    const source = button?.closest(".code-block")?.querySelector("code")?.textContent;
    if (!button || source === undefined || source === null) return;
    copyText(source).then(
      () => {
        button.textContent = "Copied";
        announce("Code copied to the clipboard.");
        window.setTimeout(() => (button.textContent = "Copy"), 2000);
      },
      () => announce("Could not copy the code."),
    );
  };

  // Safe: renderMarkdown sanitizes its output. Clicks (and Enter/Space on a button) reach the Copy buttons here.
  return <div className={className} onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />;
}
