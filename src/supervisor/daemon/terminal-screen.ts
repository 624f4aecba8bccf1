// A terminal session's screen, kept by a headless terminal emulator (xterm.js without a
// renderer) fed with everything the shell prints. serialize() gives the bytes that redraw
// it in any terminal: a reset first, then the scrollback, the visible screen (the alternate
// one too, so vim or htop come back intact), the cursor and the terminal modes. That is
// what a client gets when it attaches, or when it fell too far behind to be sent the rest.
//
// Bundled into dist/supervisor.js (scripts/build.mjs bundles npm packages in; nothing is
// loaded from node_modules inside a sandbox). Both packages are CommonJS, hence the
// default imports.
import serializeModule from "@xterm/addon-serialize";
import headlessModule from "@xterm/headless";

/** Lines kept above the screen: enough to scroll back through a build's end, bounded in memory. */
export const SCROLLBACK_LINES = 2000;

/** RIS (full reset): whatever the receiving terminal showed, the redraw starts from a blank one. */
const RESET = "\x1bc";

export interface TerminalScreen {
  /** Feeds output; `parsed` runs once it (and everything before it) is on the screen. */
  write(data: Uint8Array, parsed: () => void): void;
  /** Runs `parsed` once everything written so far is on the screen. */
  flush(parsed: () => void): void;
  resize(cols: number, rows: number): void;
  /** The bytes that redraw the screen as it is now, from any state of the receiving terminal. */
  serialize(): string;
  dispose(): void;
}

export function createScreen(cols: number, rows: number): TerminalScreen {
  const terminal = new headlessModule.Terminal({ cols, rows, scrollback: SCROLLBACK_LINES, allowProposedApi: true });
  const serializer = new serializeModule.SerializeAddon();
  terminal.loadAddon(serializer as unknown as Parameters<typeof terminal.loadAddon>[0]);
  const empty = new Uint8Array(0);
  return {
    write: (data, parsed) => terminal.write(data, parsed),
    // xterm.js runs write callbacks in order, so an empty write's comes after every earlier one.
    flush: (parsed) => terminal.write(empty, parsed),
    resize: (newCols, newRows) => terminal.resize(newCols, newRows),
    serialize: () => RESET + serializer.serialize({ scrollback: SCROLLBACK_LINES }),
    dispose: () => terminal.dispose(),
  };
}
