import { useEffect, useMemo, type MouseEvent } from "react";
import { announce, copyText } from "../clipboard";
import { highlighter } from "../highlight";
import { useLazy } from "../lazy";
import { markdownRenderer } from "../renderer";

interface Props {
  text: string;
  className?: string;
}

/** Markdown as safe HTML, plain text until the renderer has loaded. Code blocks have working Copy
 * buttons, and are highlighted once the highlighter (loaded with the first code block) is there. */
export function Markdown({ text, className = "markdown" }: Props) {
  const renderer = useLazy(markdownRenderer);
  const hljs = useLazy(highlighter); // the same text renders again, highlighted, when it arrives
  const html = useMemo(() => renderer?.renderMarkdown(text), [renderer, text, hljs]);
  const code = html !== undefined && renderer?.hasCodeBlock(html);
  useEffect(() => {
    if (!renderer) void markdownRenderer.load();
    if (code) void highlighter.load();
  }, [renderer, code]);

  const onClick = (event: MouseEvent<HTMLDivElement>) => {
    const button = (event.target as Element).closest("button.copy-code");
    const source = button?.closest(".code-block")?.querySelector("code")?.textContent;
    const label = button?.querySelector(".copy-label");
    if (!label || source === undefined || source === null) return;
    copyText(source).then(
      () => {
        label.textContent = "Copied";
        announce("Code copied to the clipboard.");
        window.setTimeout(() => (label.textContent = "Copy"), 2000);
      },
      () => announce("Could not copy the code."),
    );
  };

  if (html === undefined) return <div className={`${className} plain`}>{text}</div>;
  // Safe: renderMarkdown sanitizes its output. Clicks (and Enter/Space on a button) reach the Copy buttons here.
  return <div className={className} onClick={onClick} dangerouslySetInnerHTML={{ __html: html }} />;
}
