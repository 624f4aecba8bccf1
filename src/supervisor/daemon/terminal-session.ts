// A terminal session: a login shell in a PTY that lives in the supervisor, independent of
// who watches it. Everything the shell prints goes to the screen (terminal-screen.ts) and
// to every attached client at once; clients come and go (a closed tab, a restarted control
// plane), the shell stays until it exits or is killed.
//
// Attaching must give a client the screen *exactly* as of some point of the output and then
// every byte after that point. The emulator parses asynchronously, so an attach is a
// barrier: output arriving meanwhile still goes live to the clients already attached but is
// held back from the emulator; once the emulator has parsed everything before the barrier,
// the screen is serialized for the waiting clients, they join, and the held output goes to
// them and to the emulator. The same barrier serves a client that fell behind
// (terminal-client.ts) with a fresh redraw.
//
// Memory is bounded: the emulator's unparsed backlog plus what is held by a barrier may not
// pass MAX_BACKLOG_BYTES (the PTY is paused until it drains, so the shell blocks in write(2)
// instead), and each client's queue is bounded by its lag bound.
import type { Terminal, TerminalExit } from "../protocol.ts";
import { signalGroup } from "./child.ts";
import type { PtyExit, PtyProcess } from "./pty.ts";
import type { AttachedClient } from "./terminal-client.ts";
import type { TerminalScreen } from "./terminal-screen.ts";

/** Output not yet on the screen (being parsed, or held by an attach) before the shell is paused. */
export const MAX_BACKLOG_BYTES = 1024 * 1024;
/** After a hang-up, how long a shell has before SIGKILL. */
export const HANGUP_GRACE_MS = 2000;

export interface SessionSpec {
  id: string;
  command: string[];
  cwd: string;
  cols: number;
  rows: number;
}

export class TerminalSession {
  readonly id: string;
  readonly pid: number;
  readonly done: Promise<TerminalExit & { durationMs: number }>;
  readonly #spec: SessionSpec;
  readonly #createdAt = new Date();
  readonly #startedAt = performance.now();
  readonly #pty: PtyProcess;
  readonly #screen: TerminalScreen;
  #cols: number;
  #rows: number;
  /** Clients getting live output (some may be behind, waiting for a redraw). */
  readonly #clients = new Set<AttachedClient>();
  /** Clients waiting for the barrier in flight to give them the screen. */
  #waiting: AttachedClient[] = [];
  /** Output held back from the emulator while a barrier is in flight; null: none is. */
  #held: Buffer[] | null = null;
  #heldBytes = 0;
  #unparsed = 0;
  #paused = false;
  #exit: PtyExit | null = null;
  #finished = false;
  #resolveDone!: (exit: TerminalExit & { durationMs: number }) => void;

  constructor(spec: SessionSpec, pty: PtyProcess, screen: TerminalScreen) {
    this.#spec = spec;
    this.id = spec.id;
    this.pid = pty.pid;
    this.#pty = pty;
    this.#screen = screen;
    this.#cols = spec.cols;
    this.#rows = spec.rows;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    pty.onData((chunk) => this.#output(chunk));
    pty.onExit((exit) => {
      this.#exit = exit;
      // A barrier in flight finishes first (its held output must reach the screen).
      if (this.#held === null) this.#screen.flush(() => this.#finish());
    });
  }

  get info(): Terminal {
    return {
      id: this.id,
      pid: this.pid,
      command: this.#spec.command,
      cwd: this.#spec.cwd,
      cols: this.#cols,
      rows: this.#rows,
      clients: this.#clients.size + this.#waiting.length,
      createdAt: this.#createdAt.toISOString(),
    };
  }

  get exited(): boolean {
    return this.#exit !== null;
  }

  /** Adds a client: it gets the screen as it is, then live output, then the exit. */
  attach(client: AttachedClient): void {
    this.#redraw(client);
  }

  detach(client: AttachedClient): void {
    this.#clients.delete(client);
    this.#waiting = this.#waiting.filter((waiting) => waiting !== client);
  }

  /** Input from any attached client, as typed. False: the shell is not reading; see drain(). */
  write(data: Buffer): boolean {
    return this.#pty.write(data);
  }

  drain(): Promise<void> {
    return this.#pty.drain();
  }

  /** The last resize wins, whoever sends it (the shell gets SIGWINCH and redraws). */
  resize(cols: number, rows: number): void {
    if (this.#exit || (cols === this.#cols && rows === this.#rows)) return;
    this.#cols = cols;
    this.#rows = rows;
    this.#pty.resize(cols, rows);
    this.#screen.resize(cols, rows);
  }

  /** Signals the shell's process group (a hang-up ends a login shell; SIGKILL anything). */
  signal(signal: NodeJS.Signals): boolean {
    if (this.#exit) return false;
    return signalGroup(this.pid, signal);
  }

  /** Hangs the terminal up, SIGKILL after the grace; resolves with how the shell ended. */
  async kill(): Promise<TerminalExit & { durationMs: number }> {
    this.signal("SIGHUP");
    const timer = setTimeout(() => this.signal("SIGKILL"), HANGUP_GRACE_MS);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Queues `client` for the screen as of now (a new client, or one that fell behind). */
  #redraw(client: AttachedClient): void {
    if (this.#finished || client.closed) return;
    this.#clients.delete(client);
    this.#waiting.push(client);
    if (this.#held !== null) return; // the barrier in flight serves it too
    this.#held = [];
    this.#screen.flush(() => this.#serveWaiting());
  }

  #serveWaiting(): void {
    const served = this.#waiting.filter((client) => !client.closed);
    this.#waiting = [];
    const redraw = this.#screen.serialize();
    for (const client of served) {
      client.screen(this.#cols, this.#rows, redraw);
      this.#clients.add(client);
    }
    const held = this.#held ?? [];
    this.#held = null;
    this.#heldBytes = 0;
    for (const chunk of held) {
      for (const client of served) client.output(chunk);
      this.#parse(chunk);
    }
    this.#throttle();
    if (this.#exit && !this.#finished) this.#screen.flush(() => this.#finish());
  }

  #output(chunk: Buffer): void {
    for (const client of this.#clients) client.output(chunk);
    if (this.#held !== null) {
      this.#held.push(chunk);
      this.#heldBytes += chunk.length;
    } else {
      this.#parse(chunk);
    }
    this.#throttle();
  }

  #parse(chunk: Buffer): void {
    this.#unparsed += chunk.length;
    this.#screen.write(chunk, () => {
      this.#unparsed -= chunk.length;
      this.#throttle();
    });
  }

  /** Pauses the shell's output while the backlog is over the bound, resumes it below. */
  #throttle(): void {
    const over = this.#unparsed + this.#heldBytes > MAX_BACKLOG_BYTES;
    if (over && !this.#paused) {
      this.#paused = true;
      this.#pty.pause();
    } else if (!over && this.#paused) {
      this.#paused = false;
      this.#pty.resume();
    }
  }

  /** Once the shell's last output is on the screen: every client gets it, then the exit. */
  #finish(): void {
    if (this.#finished || !this.#exit) return;
    this.#finished = true;
    const redraw = this.#screen.serialize();
    const exit = { id: this.id, exitCode: this.#exit.exitCode, signal: this.#exit.signal, durationMs: Math.round(performance.now() - this.#startedAt) };
    for (const client of [...this.#waiting, ...this.#clients]) {
      if (client.behind || this.#waiting.includes(client)) client.screen(this.#cols, this.#rows, redraw);
      client.exit(exit);
    }
    this.#waiting = [];
    this.#clients.clear();
    this.#screen.dispose();
    this.#resolveDone(exit);
  }
}
