// What a person would see in their terminal: a headless xterm.js fed with the bytes a test
// receives, read back as lines of text. Tests assert on the screen rather than on raw
// bytes, so a redraw (which starts with a reset) and live output are judged the same way.
import headless from "@xterm/headless";

export class Screen {
  readonly #terminal: InstanceType<typeof headless.Terminal>;
  #pending = Promise.resolve();

  constructor(cols = 80, rows = 24) {
    this.#terminal = new headless.Terminal({ cols, rows, scrollback: 5000, allowProposedApi: true });
  }

  /** Feeds bytes; resolves once they are on the screen. */
  write(data: Uint8Array | string): Promise<void> {
    this.#pending = new Promise((resolve) => this.#terminal.write(data, resolve));
    return this.#pending;
  }

  resize(cols: number, rows: number): void {
    this.#terminal.resize(cols, rows);
  }

  /** The visible rows, trailing spaces trimmed. */
  async visible(): Promise<string[]> {
    await this.#pending;
    const buffer = this.#terminal.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < this.#terminal.rows; y++) rows.push(buffer.getLine(buffer.viewportY + y)?.translateToString(true) ?? "");
    return rows;
  }

  /** Scrollback and visible rows of the active buffer, as one text. */
  async text(): Promise<string> {
    await this.#pending;
    const buffer = this.#terminal.buffer.active;
    const rows: string[] = [];
    for (let y = 0; y < buffer.length; y++) rows.push(buffer.getLine(y)?.translateToString(true) ?? "");
    return rows.join("\n");
  }

  /** "normal", or "alternate" while a full-screen program (vim, less, htop) runs. */
  get buffer(): "normal" | "alternate" {
    return this.#terminal.buffer.active.type;
  }
}

/** A screen fed by a test's terminal client, with a way to wait for what it shows. */
export class TerminalView {
  readonly screen: Screen;
  /** Redraws received (a `screen` event or message each). */
  redraws = 0;
  exit: { exitCode: number | null; signal: string | null } | null = null;
  closed = false;
  #waiters: Array<() => void> = [];

  constructor(cols = 80, rows = 24) {
    this.screen = new Screen(cols, rows);
  }

  /** Feeds output; waiters look again unless `more` says further output is already queued
   * (reading the whole screen after every small chunk would make the test the slow client). */
  async output(data: Uint8Array | string, more = false): Promise<void> {
    await this.screen.write(data);
    if (!more) this.#wake();
  }

  redraw(cols: number, rows: number): void {
    this.redraws += 1;
    this.screen.resize(cols, rows);
    this.#wake();
  }

  /** Something else arrived (a control message): conditions are checked again. */
  notice(): void {
    this.#wake();
  }

  ended(exit: { exitCode: number | null; signal: string | null } | null): void {
    this.exit = exit;
    this.closed = true;
    this.#wake();
  }

  /** Resolves once the screen's text (scrollback included) matches; rejects if the stream ended first. */
  async untilText(pattern: RegExp): Promise<string> {
    for (;;) {
      const text = await this.screen.text();
      if (pattern.test(text)) return text;
      if (this.closed) throw new Error(`the terminal ended before showing ${pattern}; it shows:\n${text}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Resolves once `check` holds (checked after every event). */
  async until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
    for (;;) {
      if (await check()) return;
      if (this.closed) throw new Error(`the terminal ended before ${what}; it shows:\n${await this.screen.text()}`);
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
