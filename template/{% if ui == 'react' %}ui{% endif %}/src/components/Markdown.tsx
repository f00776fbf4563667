import { useMemo } from "react";
import { renderMarkdown } from "../markdown";

export function Markdown({ text }: { text: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // Safe: renderMarkdown sanitizes its output.
  return <div className="markdown" dangerouslySetInnerHTML={{ __html: html }} />;
}
