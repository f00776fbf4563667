// Inline icons (no icon font or CDN). Decorative: buttons carry their own labels.
import type { CSSProperties, ReactNode } from "react";

const common = {
  width: 18,
  height: 18,
  viewBox: "0 0 24 24",
  fill: "none",
  stroke: "currentColor",
  strokeWidth: 2,
  strokeLinecap: "round",
  strokeLinejoin: "round",
  "aria-hidden": true,
  focusable: false,
} as const;

function icon(children: ReactNode, style?: CSSProperties) {
  return (
    <svg {...common} style={style}>
      {children}
    </svg>
  );
}

export const ThumbIcon = ({ down = false }: { down?: boolean }) =>
  icon(
    <path d="M7 10v11H4a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h3l4-8a3 3 0 0 1 3 3v4h5.5a2 2 0 0 1 2 2.3l-1.4 8a2 2 0 0 1-2 1.7H7" />,
    down ? { transform: "rotate(180deg)" } : undefined,
  );
export const SendIcon = () => icon(<path d="M12 19V5M5 12l7-7 7 7" />);
export const StopIcon = () => icon(<rect x="6" y="6" width="12" height="12" rx="2" fill="currentColor" />);
export const CopyIcon = () =>
  icon(
    <>
      <rect x="9" y="9" width="12" height="12" rx="2" />
      <path d="M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1" />
    </>,
  );
export const CheckIcon = () => icon(<path d="M20 6 9 17l-5-5" />);
export const EditIcon = () => icon(<path d="M12 20h9M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4Z" />);
export const RegenerateIcon = () =>
  icon(
    <>
      <path d="M21 12a9 9 0 1 1-3-6.7L21 8" />
      <path d="M21 3v5h-5" />
    </>,
  );
export const ImageIcon = () =>
  icon(
    <>
      <rect x="3" y="3" width="18" height="18" rx="2" />
      <circle cx="9" cy="9" r="2" />
      <path d="m21 15-5-5L5 21" />
    </>,
  );
export const CloseIcon = () => icon(<path d="M18 6 6 18M6 6l12 12" />);
export const SunIcon = () =>
  icon(
    <>
      <circle cx="12" cy="12" r="4" />
      <path d="M12 2v2M12 20v2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M2 12h2M20 12h2M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4" />
    </>,
  );
export const MoonIcon = () => icon(<path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8Z" />);
export const SystemIcon = () =>
  icon(
    <>
      <rect x="2" y="4" width="20" height="13" rx="2" />
      <path d="M8 21h8M12 17v4" />
    </>,
  );
export const ToolIcon = () =>
  icon(<path d="M14.7 6.3a4 4 0 0 0 5 5L21 13l-8 8-3-3 8-8-1.3-1.3a4 4 0 0 1-5-5L9 6 6 3 3 6l3 3" />);
export const ErrorIcon = () =>
  icon(
    <>
      <circle cx="12" cy="12" r="9" />
      <path d="M12 8v4M12 16h.01" />
    </>,
  );
export const PlusIcon = () => icon(<path d="M12 5v14M5 12h14" />);
export const SidebarIcon = () =>
  icon(
    <>
      <rect x="3" y="4" width="18" height="16" rx="2" />
      <path d="M9 4v16" />
    </>,
  );
export const TrashIcon = () => icon(<path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3" />);
