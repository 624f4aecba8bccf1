// The terminal's colors in the UI's light and dark schemes. xterm.js's default palette is
// made for a dark background; on a light one its yellow and cyan are unreadable, so the light
// palette darkens them (each ANSI color at least 4.5:1 against the background, like text).
import type { ITheme } from "@xterm/xterm";

export const TERMINAL_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace";

export const terminalThemes: Record<"light" | "dark", ITheme> = {
  light: {
    background: "#ffffff",
    foreground: "#1f2328",
    cursor: "#1f2328",
    cursorAccent: "#ffffff",
    selectionBackground: "#c5cae9",
    black: "#1f2328",
    red: "#b3261e",
    green: "#1a7f37",
    yellow: "#7d5700",
    blue: "#0550ae",
    magenta: "#8250df",
    cyan: "#0b6a78",
    white: "#57606a",
    brightBlack: "#57606a",
    brightRed: "#a40e26",
    brightGreen: "#116329",
    brightYellow: "#6c4a00",
    brightBlue: "#0a3069",
    brightMagenta: "#6639ba",
    brightCyan: "#0a5460",
    brightWhite: "#24292f",
  },
  dark: {
    background: "#1f1f1f",
    foreground: "#e6e6e6",
    cursor: "#e6e6e6",
    cursorAccent: "#1f1f1f",
    selectionBackground: "#3b4a8a",
    black: "#2e3036",
    red: "#ff7b72",
    green: "#7ee787",
    yellow: "#e3b341",
    blue: "#79c0ff",
    magenta: "#d2a8ff",
    cyan: "#56d4dd",
    white: "#c9d1d9",
    brightBlack: "#8b949e",
    brightRed: "#ffa198",
    brightGreen: "#a5f3a0",
    brightYellow: "#f8e3a1",
    brightBlue: "#a5d6ff",
    brightMagenta: "#e2c5ff",
    brightCyan: "#a5f0f5",
    brightWhite: "#ffffff",
  },
};
