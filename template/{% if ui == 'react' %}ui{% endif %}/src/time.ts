// "5 min ago", "yesterday", "Mar 3": when a conversation was last used, in the reader's language.
const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["minute", 60],
  ["hour", 3600],
  ["day", 86_400],
];
const WEEK = 7 * 86_400;

/** `seconds` (since the epoch) relative to `now` (milliseconds); older than a week: the date. */
export function relativeTime(seconds: number, now = Date.now(), locale?: string): string {
  const ago = Math.max(0, now / 1000 - seconds);
  if (ago < 60) return "just now";
  if (ago < WEEK) {
    const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto", style: "short" });
    const [unit, size] = UNITS.findLast(([, size]) => ago >= size)!;
    return format.format(-Math.floor(ago / size), unit);
  }
  const date = new Date(seconds * 1000);
  const thisYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString(locale, { month: "short", day: "numeric", ...(thisYear ? {} : { year: "numeric" }) });
}
