// A module loaded on first use, so the page's first paint does not wait for it. Components re-render
// when it arrives (useLazy); until then they show something plainer.
import { useSyncExternalStore } from "react";

export interface Lazy<T> {
  /** The module, once loaded. */
  get(): T | undefined;
  /** Starts loading it (once; again after a failure). */
  load(): Promise<void>;
  subscribe(listener: () => void): () => void;
}

export function lazy<T>(importer: () => Promise<T>): Lazy<T> {
  let value: T | undefined;
  let loading: Promise<void> | undefined;
  const listeners = new Set<() => void>();
  return {
    get: () => value,
    load() {
      loading ??= importer().then(
        (module) => {
          value = module;
          for (const listener of listeners) listener();
        },
        () => {
          loading = undefined; // offline for a moment: the next use tries again
        },
      );
      return loading;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** The module if loaded (re-renders the component when it arrives). */
export function useLazy<T>(module: Lazy<T>): T | undefined {
  return useSyncExternalStore(module.subscribe, module.get);
}
