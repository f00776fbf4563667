// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { highlighter } from "../highlight";
import { hasCodeBlock, renderMarkdown } from "../markdown";

const CODE = "Run:\n\n```python\nprint('hi')\n```\n\nthen `ls`";

describe("renderMarkdown", () => {
  it("renders code blocks with a language label and a Copy button, and inline code", () => {
    const html = renderMarkdown(CODE);
    expect(hasCodeBlock(html)).toBe(true);
    expect(html).toContain('<span class="code-lang">python</span>');
    expect(html).toContain(
      '<button type="button" class="copy-code"><span class="copy-label">Copy</span>' +
        '<span class="visually-hidden"> python code</span></button>',
    );
    expect(html).toContain('<pre tabindex="0"><code class="language-python">print(\'hi\')');
    expect(html).toContain("<code>ls</code>");
    expect(renderMarkdown("```\nplain\n```")).toContain('<span class="code-lang">text</span>');
  });

  it("highlights once the highlighter has loaded", async () => {
    expect(highlighter.get()).toBeUndefined();
    await highlighter.load();
    const html = renderMarkdown(CODE);
    expect(html).toContain('<span class="hljs-built_in">print</span>(<span class="hljs-string">');
    expect(renderMarkdown("```klingon\nqapla'\n```")).toContain("<code class=\"language-klingon\">qapla'</code>"); // unknown: plain
  });

  it("removes scripts and event handlers, also in a code block's language", () => {
    const html = renderMarkdown('<script>alert(1)</script><img src="x" onerror="alert(2)">\n\n[a](javascript:alert(3))');
    expect(html).toContain("<a>a</a>");
    expect(html).not.toMatch(/script|onerror|javascript:/);
    const fence = renderMarkdown('```"><img src=x onerror=alert(1)>\nx\n```');
    expect(fence).not.toMatch(/<img|onerror=/);
  });

  it("opens links in a new tab without a referrer; wide tables scroll by keyboard too", () => {
    expect(renderMarkdown("[docs](https://example.com)")).toBe(
      '<p><a href="https://example.com" target="_blank" rel="noopener noreferrer">docs</a></p>\n',
    );
    expect(renderMarkdown("| a |\n| - |\n| 1 |")).toContain('<table tabindex="0">');
  });
});
