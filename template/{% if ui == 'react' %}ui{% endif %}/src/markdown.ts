// Markdown to safe HTML: `marked` renders, DOMPurify removes anything executable. Code blocks get a
// header (language label, Copy button) and are highlighted once the highlighter has loaded.
import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";
import { highlighter } from "./highlight";

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    code({ text, lang }: Tokens.Code): string {
      const language = (lang ?? "").trim().split(/\s+/)[0]?.toLowerCase() ?? "";
      const label = language || "text";
      return (
        `<div class="code-block">` +
        `<div class="code-head"><span class="code-lang">${escapeHtml(label)}</span>` +
        `<button type="button" class="copy-code"><span class="copy-label">Copy</span>` +
        `<span class="visually-hidden"> ${escapeHtml(label)} code</span></button></div>` +
        // tabindex: a block wider than the screen scrolls with the keyboard too
        `<pre tabindex="0"><code class="${language ? `language-${escapeHtml(language)}` : ""}">` +
        `${highlighted(text, language)}</code></pre></div>`
      );
    },
  },
});

// Links in answers open in a new tab and tell the target nothing; a table too wide for the screen
// scrolls, with the keyboard too.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "TABLE") node.setAttribute("tabindex", "0");
});

export function renderMarkdown(text: string): string {
  return DOMPurify.sanitize(marked.parse(text, { async: false }));
}

/** Whether rendered HTML has a code block (the highlighter is loaded when one appears). */
export function hasCodeBlock(html: string): boolean {
  return html.includes('class="code-block"');
}

function highlighted(code: string, language: string): string {
  const hljs = highlighter.get();
  if (!hljs || !language || !hljs.getLanguage(language)) return escapeHtml(code);
  return hljs.highlight(code, { language, ignoreIllegals: true }).value;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
