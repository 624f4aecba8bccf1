// One theme for light and dark. Indigo on Mantine's defaults keeps text and controls above
// WCAG AA contrast in both schemes; the system font loads nothing from anywhere.
import { createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
  fontFamilyMonospace: "ui-monospace, SFMono-Regular, Menlo, Consolas, 'Liberation Mono', monospace",
  defaultRadius: "md",
  // Visible focus for keyboard users only (a mouse click shows none).
  focusRing: "auto",
});
