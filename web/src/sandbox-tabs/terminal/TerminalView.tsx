// One terminal on the page: xterm.js drawing what a TerminalConnection receives, sending what
// is typed, fitted to its box (a resize of the window or of the layout resizes the shell's
// PTY), in the UI's color scheme. The connection comes back by itself after a drop; the
// state shows over the terminal (never above it: a banner would change the box's height and
// so the shell's size).
import "@xterm/xterm/css/xterm.css";
import { Badge, Box, Button, Group, Paper, Stack, Text, useComputedColorScheme, VisuallyHidden } from "@mantine/core";
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import { useEffect, useRef, useState } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { TerminalConnection, type TerminalState } from "./connection.ts";
import { TERMINAL_FONT, terminalThemes } from "./themes.ts";

/** The server takes 1–1000 columns and rows. */
const MAX_SIZE = 1000;

export interface TerminalViewProps {
  sandboxId: string;
  /** The terminal to attach to; null opens a new one. Read once, when mounted. */
  tid: string | null;
  /** Shown (its sub-tab selected and the Terminal tab active): only a shown terminal can be fitted. */
  visible: boolean;
  /** Take the keyboard focus when shown (after the user picked it, not when the page opens). */
  focusWhenShown: boolean;
  label: string;
  onAttached: (tid: string) => void;
  /** The shell exited or the terminal is gone: it will not come back. */
  onEnded: () => void;
  /** Take this terminal off the page. */
  onDismiss: () => void;
  onNewTerminal: () => void;
}

export function TerminalView(props: TerminalViewProps) {
  const { sandboxId, visible, focusWhenShown, label } = props;
  const box = useRef<HTMLDivElement>(null);
  const scheme = useComputedColorScheme("light");
  const [state, setState] = useState<TerminalState>({ kind: "connecting" });
  // What the terminal is and its size, on the element for tests and for whoever inspects the page.
  const [attachedId, setAttachedId] = useState<string | null>(props.tid);
  const [size, setSize] = useState<{ cols: number; rows: number } | null>(null);
  // What the effects below share; made once per mounted view.
  const parts = useRef<{ term: Terminal; opened: boolean; fitNow: () => void } | null>(null);
  const visibleRef = useRef(visible);
  visibleRef.current = visible;
  // The latest callbacks, without re-running the effect that owns the connection.
  const callbacks = useRef(props);
  callbacks.current = props;

  // The connection lives as long as the view; the color scheme is applied by its own effect.
  // biome-ignore lint/correctness/useExhaustiveDependencies: see above
  useEffect(() => {
    const term = new Terminal({
      fontFamily: TERMINAL_FONT,
      fontSize: 14,
      lineHeight: 1.15,
      cursorBlink: true,
      scrollback: 5000,
      theme: terminalThemes[scheme],
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    const fitNow = () => {
      if (!current.opened || !visibleRef.current) return;
      const dims = fit.proposeDimensions();
      if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows) || dims.cols < 2 || dims.rows < 1) return;
      const cols = Math.min(MAX_SIZE, dims.cols);
      const rows = Math.min(MAX_SIZE, dims.rows);
      if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
    };
    const current = { term, opened: false, fitNow };
    parts.current = current;
    // Shown from the start: fitted before attaching, so the shell starts at this box's size.
    if (visibleRef.current && box.current) {
      term.open(box.current);
      current.opened = true;
      fitNow();
    }
    // After a whole-screen redraw (drawn at the size the server had), fit back to this box.
    let refitAfterWrite = false;
    const connection = new TerminalConnection(sandboxId, callbacks.current.tid, {
      size: () => (current.opened && visibleRef.current ? { cols: term.cols, rows: term.rows } : null),
      onAttached: (terminal) => {
        setAttachedId(terminal.id);
        callbacks.current.onAttached(terminal.id);
      },
      onScreen: (cols, rows) => {
        // Output before the redraw is parsed first, then the terminal takes the redraw's size.
        if (cols !== term.cols || rows !== term.rows) term.write(new Uint8Array(0), () => term.resize(cols, rows));
        refitAfterWrite = true;
      },
      onOutput: (bytes) => {
        if (!refitAfterWrite) return term.write(bytes);
        refitAfterWrite = false;
        term.write(bytes, fitNow);
      },
      onState: (next) => {
        setState(next);
        term.options.disableStdin = next.kind === "exited" || next.kind === "gone" || next.kind === "failed";
        if (next.kind === "exited" || next.kind === "gone" || next.kind === "failed") callbacks.current.onEnded();
      },
    });
    const encoder = new TextEncoder();
    term.onData((data) => connection.send(encoder.encode(data)));
    // Mouse reports in the legacy encoding: bytes, not UTF-8.
    term.onBinary((data) => connection.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    term.onResize(({ cols, rows }) => {
      connection.resize(cols, rows);
      setSize({ cols, rows });
    });

    let frame = 0;
    const observer = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(fitNow);
    });
    if (box.current) observer.observe(box.current);
    return () => {
      observer.disconnect();
      cancelAnimationFrame(frame);
      connection.close();
      term.dispose();
      parts.current = null;
    };
  }, [sandboxId]);

  // xterm measures its font when opened, which needs a box on screen: opened when first shown.
  useEffect(() => {
    const current = parts.current;
    if (!visible || !current || !box.current) return;
    if (!current.opened) {
      current.term.open(box.current);
      current.opened = true;
    }
    current.fitNow();
    setSize({ cols: current.term.cols, rows: current.term.rows });
    if (focusWhenShown) current.term.focus();
  }, [visible, focusWhenShown]);

  useEffect(() => {
    if (parts.current) parts.current.term.options.theme = terminalThemes[scheme];
  }, [scheme]);

  const ended = state.kind === "exited" || state.kind === "gone" || state.kind === "failed";
  return (
    <Box
      pos="relative"
      data-testid="terminal"
      data-terminal-id={attachedId ?? undefined}
      data-terminal-state={state.kind}
      data-cols={size?.cols}
      data-rows={size?.rows}
      aria-label={label}
      role="group"
    >
      <Box
        ref={box}
        h="max(240px, calc(100dvh - 300px))"
        p={6}
        bg={terminalThemes[scheme].background}
        style={{ borderRadius: "var(--mantine-radius-md)", border: "1px solid var(--mantine-color-default-border)", overflow: "hidden" }}
      />
      {state.kind === "connecting" || state.kind === "reconnecting" ? (
        <Badge pos="absolute" top={10} right={24} color={state.kind === "connecting" ? "gray" : "yellow"} variant="filled" role="status">
          {state.kind === "connecting" ? "Connecting…" : "Reconnecting…"}
        </Badge>
      ) : null}
      {state.kind === "reconnecting" ? <VisuallyHidden>{state.reason} The shell keeps running in the sandbox.</VisuallyHidden> : null}
      {ended ? (
        <Paper pos="absolute" bottom={16} left={16} right={16} p="md" shadow="md" withBorder role="status">
          <Stack gap="xs">
            {state.kind === "exited" ? (
              <Text size="sm" fw={600}>
                The shell exited{state.signal ? ` (${state.signal})` : state.exitCode !== null ? ` with code ${state.exitCode}` : ""}.
              </Text>
            ) : state.kind === "gone" ? (
              <Text size="sm" fw={600}>
                {state.message}
              </Text>
            ) : (
              <ErrorAlert error={state.error} title="This terminal cannot be attached" />
            )}
            <Group gap="xs">
              <Button size="xs" onClick={props.onNewTerminal}>
                New terminal
              </Button>
              <Button size="xs" variant="default" onClick={props.onDismiss}>
                Close
              </Button>
            </Group>
          </Stack>
        </Paper>
      ) : null}
    </Box>
  );
}
