// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../markdown";

describe("renderMarkdown", () => {
  it("renders code blocks and inline code", () => {
    const html = renderMarkdown("Run:\n\n```python\nprint('hi')\n```\n\nthen `ls`");
    expect(html).toContain('<pre><code class="language-python">print(\'hi\')');
    expect(html).toContain("<code>ls</code>");
  });

  it("removes scripts and event handlers", () => {
    const html = renderMarkdown('<script>alert(1)</script><img src="x" onerror="alert(2)">\n\n[a](javascript:alert(3))');
    expect(html).toContain("<a>a</a>");
    expect(html).not.toMatch(/script|onerror|javascript:/);
  });

  it("opens links in a new tab without a referrer", () => {
    expect(renderMarkdown("[docs](https://example.com)")).toBe(
      '<p><a href="https://example.com" target="_blank" rel="noopener noreferrer">docs</a></p>\n',
    );
  });
});
