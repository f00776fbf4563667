// Code highlighting, loaded on first use: the page paints without it, and a code block re-renders
// highlighted once it has arrived (highlight.js core and the languages in highlightLanguages.ts).
import type { HLJSApi } from "highlight.js";

let hljs: HLJSApi | undefined;
let loading: Promise<void> | undefined;
const listeners = new Set<() => void>();

/** The highlighter, once loaded. */
export function highlighter(): HLJSApi | undefined {
  return hljs;
}

/** Starts loading the highlighter (once); listeners hear when it is ready. */
export function loadHighlighter(): Promise<void> {
  loading ??= import("./highlightLanguages")
    .then((module) => {
      hljs = module.default;
      for (const listener of listeners) listener();
    })
    .catch(() => {
      loading = undefined; // code stays readable, only plain; a later block tries again
    });
  return loading;
}

/** For useSyncExternalStore: re-render when the highlighter arrives. */
export function subscribeHighlighter(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function highlighterVersion(): number {
  return hljs ? 1 : 0;
}
