// Code highlighting, loaded with the first code block: highlight.js core and the languages in
// highlightLanguages.ts (~26 KB gzipped, kept out of the page's first load).
import { lazy } from "./lazy";

export const highlighter = lazy(() => import("./highlightLanguages").then((module) => module.default));
