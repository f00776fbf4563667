import { useEffect, useState } from "react";

/** Phone width: below it the conversation list is a drawer (keep in step with styles.css). */
const NARROW = "(max-width: 800px)";

/** Whether the window is phone-width, following resizes and rotations. */
export function useNarrow(): boolean {
  const [narrow, setNarrow] = useState(() => window.matchMedia(NARROW).matches);
  useEffect(() => {
    const query = window.matchMedia(NARROW);
    const changed = () => setNarrow(query.matches);
    query.addEventListener("change", changed);
    return () => query.removeEventListener("change", changed);
  }, []);
  return narrow;
}
