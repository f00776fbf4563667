// The Markdown renderer (marked + DOMPurify + code blocks, ~27 KB gzipped), loaded right after the
// page's first paint instead of before it: answers show as plain text for the moment it takes.
import { lazy } from "./lazy";

export const markdownRenderer = lazy(() => import("./markdown"));
