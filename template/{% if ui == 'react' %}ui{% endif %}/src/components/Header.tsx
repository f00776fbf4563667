import { useEffect, useState } from "react";
import { getUser, type User } from "../api/client";
import { applyTheme, nextTheme, storedTheme, type Theme } from "../theme";
import { MoonIcon, PlusIcon, SunIcon, SystemIcon } from "./Icons";

interface Props {
  title: string;
  canStartOver: boolean;
  onNewChat(): void;
}

const THEME_ICONS = { system: SystemIcon, light: SunIcon, dark: MoonIcon } as const;

/** The agent's name, who is signed in (when Databricks Apps says), the theme, and New chat. */
export function Header({ title, canStartOver, onNewChat }: Props) {
  const [user, setUser] = useState<User>();
  const [theme, setTheme] = useState<Theme>(storedTheme);
  useEffect(() => {
    getUser().then(setUser, () => setUser(undefined)); // unknown user: nothing shown
  }, []);

  const switchTheme = () => {
    const next = nextTheme(theme);
    applyTheme(next);
    setTheme(next);
  };
  const ThemeIcon = THEME_ICONS[theme];
  const who = user?.name || user?.email;

  return (
    <header className="header">
      <h1>{title}</h1>
      <div className="header-tools">
        {who && (
          <span className="signed-in" title={user?.email ?? undefined}>
            <span className="visually-hidden">Signed in as </span>
            {who}
          </span>
        )}
        <button
          type="button"
          className="icon-button"
          aria-label={`Color theme: ${theme}. Switch to ${nextTheme(theme)}`}
          title={`Theme: ${theme}`}
          onClick={switchTheme}
        >
          <ThemeIcon />
        </button>
        <button type="button" className="text-button" onClick={onNewChat} disabled={!canStartOver}>
          <PlusIcon />
          <span>New chat</span>
        </button>
      </div>
    </header>
  );
}
