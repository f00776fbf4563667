import { useEffect, useState } from "react";
import { getUser, type User } from "../api/client";
import { applyTheme, nextTheme, storedTheme, type Theme } from "../theme";
import { MoonIcon, PlusIcon, SidebarIcon, SunIcon, SystemIcon } from "./Icons";

interface Props {
  title: string;
  /** The conversation list: its element id, and whether it is shown. */
  sidebar: { id: string; open: boolean; toggle(): void };
  canStartOver: boolean;
  onNewChat(): void;
}

const THEME_ICONS = { system: SystemIcon, light: SunIcon, dark: MoonIcon } as const;

/** The conversation list's toggle, the agent's name, who is signed in (when Databricks Apps says), the
 * theme, and New chat. */
export function Header({ title, sidebar, canStartOver, onNewChat }: Props) {
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
      <div className="header-title">
        <button
          type="button"
          className="icon-button"
          aria-label="Conversations"
          aria-expanded={sidebar.open}
          aria-controls={sidebar.id}
          title={sidebar.open ? "Hide conversations" : "Show conversations"}
          onClick={sidebar.toggle}
        >
          <SidebarIcon />
        </button>
        <h1>{title}</h1>
      </div>
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
