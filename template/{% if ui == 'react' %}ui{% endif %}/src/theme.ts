// Light, dark, or as the system says. The choice is kept in localStorage and set on <html> as
// data-theme (index.html sets it before the page paints, so it never flashes the other theme).
export type Theme = "system" | "light" | "dark";

const KEY = "agent-ui-theme";
export const THEMES: Theme[] = ["system", "light", "dark"];

export function storedTheme(): Theme {
  try {
    const value = localStorage.getItem(KEY);
    return value === "light" || value === "dark" ? value : "system";
  } catch {
    return "system"; // storage blocked: follow the system
  }
}

export function applyTheme(theme: Theme): void {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  try {
    if (theme === "system") localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, theme);
  } catch {
    // storage blocked: the choice lasts until the page closes
  }
}

export function nextTheme(theme: Theme): Theme {
  return THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length] ?? "system";
}
