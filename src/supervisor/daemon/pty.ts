// A command in a pseudo-terminal, inside the sandbox: raw bytes out, bytes in, resize,
// signals, and flow control (pause stops reading, so a command that outputs faster than
// its reader is consumed blocks in write(2) instead of filling the supervisor's memory).
//
// Built on the native addon of @lydell/node-pty (forkpty, TIOCSWINSZ, waitpid on a thread),
// loaded lazily from /opt/outpost/node_modules: the supervisor starts without it, and a
// sandbox without it gets a clear error. node-pty's JavaScript layer is not used, because
// on Linux it loses the end of a command's output: the command exits, the slave side
// closes, and libuv takes POLLHUP plus a short read of the master for end-of-file while
// bytes are still queued (node-pty#85 and #726; libuv fixed it in 2026, after the libuv of
// Node 22.23). It also delays exit by up to 200 ms, drops what is queued when the reader is
// paused at exit, and decodes output to strings unless told otherwise (which then leaves
// IUTF8 off). Here the supervisor keeps its own descriptor of the slave open, so the master
// never hangs up; when the command exits, what is queued is read to EAGAIN (the master is
// non-blocking) and only then is the exit reported.
import { closeSync, constants, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { constants as osConstants } from "node:os";
import { ReadStream } from "node:tty";
import { type CommandUser, commandIdentity } from "./identity.ts";

export interface PtyExit {
  exitCode: number | null;
  signal: string | null;
}

export interface OpenPtyOptions {
  /** argv; the program is looked up on the PATH of `env`. */
  command: string[];
  cwd: string;
  /** The whole environment of the command. TERM defaults to xterm-256color, PWD is `cwd`. */
  env: Record<string, string>;
  cols: number;
  rows: number;
  /** Default: the sandbox user (identity.ts). */
  user?: CommandUser;
}

export interface PtyProcess {
  readonly pid: number;
  /** The terminal's output, as it comes (raw bytes, possibly split inside a UTF-8 sequence). */
  onData(callback: (chunk: Buffer) => void): void;
  /** Input, as if typed (a string is UTF-8). Ignored once the command has exited. False:
   * the command is not reading its input; wait for drain() before writing more. */
  write(data: Buffer | string): boolean;
  /** Resolves once written input has gone to the terminal (or the command has exited). */
  drain(): Promise<void>;
  resize(cols: number, rows: number): void;
  /** Signals the command (not its process group); default SIGHUP, as a closed terminal would. No-op after exit. */
  kill(signal?: NodeJS.Signals): void;
  /** Once, after the last output was delivered (so never while paused). */
  onExit(callback: (exit: PtyExit) => void): void;
  /** Stops reading the terminal: no more onData until resume(); the command blocks once the kernel's buffer is full. */
  pause(): void;
  resume(): void;
}

/** The addon's functions as @lydell/node-pty 1.1.0's unixTerminal.js calls them (the version is pinned). */
interface PtyAddon {
  fork(
    file: string,
    args: string[],
    env: string[],
    cwd: string,
    cols: number,
    rows: number,
    uid: number,
    gid: number,
    utf8: boolean,
    helperPath: string,
    onExit: (code: number, signal: number) => void,
  ): { fd: number; pid: number; pty: string };
  resize(fd: number, cols: number, rows: number): void;
}

const ADDON = `@lydell/node-pty-${process.platform}-${process.arch}/pty.node`;
let addon: PtyAddon | undefined;

function loadAddon(): PtyAddon {
  if (addon) return addon;
  try {
    // Resolved from this file: in the bundle that is /opt/outpost/supervisor.js, so the
    // addon comes from /opt/outpost/node_modules; from src/ (tests) the repo's node_modules.
    addon = createRequire(import.meta.url)(ADDON) as PtyAddon;
    return addon;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND") throw new Error("PTY support is not installed in /opt/outpost", { cause: error });
    throw new Error(`PTY support in /opt/outpost failed to load: ${(error as Error).message}`, { cause: error });
  }
}

const READ_CHUNK = 64 * 1024;

export function openPty(options: OpenPtyOptions): PtyProcess {
  const [file, ...args] = options.command;
  if (!file) throw new Error("openPty needs a command");
  assertSize(options.cols, options.rows);
  const native = loadAddon();
  const identity = commandIdentity(options.user);
  // The caller's env is the supervisor's plus the request's: who the shell runs as decides
  // HOME, USER and PATH, unless the request set them itself (not knowable here: root's win).
  const env = { TERM: "xterm-256color", ...options.env, ...identity.env, PWD: options.cwd };
  const envPairs = Object.entries(env).map(([key, value]) => `${key}=${value}`);

  let exit: PtyExit | null = null;
  let outputEnded = false;
  let finished = false;
  let paused = false;
  const dataCallbacks: Array<(chunk: Buffer) => void> = [];
  const exitCallbacks: Array<(exit: PtyExit) => void> = [];
  const deliver = (chunk: Buffer) => {
    for (const callback of dataCallbacks) callback(chunk);
  };

  // utf8 = true only sets IUTF8 (line editing erases whole characters); bytes stay raw.
  // uid/gid -1: the command runs as the supervisor's user. The helper is macOS-only.
  const term = native.fork(file, args, envPairs, options.cwd, options.cols, options.rows, identity.uid ?? -1, identity.gid ?? -1, true, "", (code, signal) => {
    exit = signal ? { exitCode: null, signal: signalName(signal) } : { exitCode: code, signal: null };
    finish();
  });
  // Held until the end, so the master never sees the slave close (see the top of the file).
  // Opened before the stream starts reading, so no hang-up can be observed in between.
  let slave: number | null = null;
  try {
    slave = openSync(term.pty, constants.O_RDWR | constants.O_NOCTTY);
  } catch {
    // Not expected (the slave is ours, mode 0620); the terminal works, its last output may not.
  }
  // A tty.ReadStream has no read-ahead (highWaterMark 0): paused means not reading.
  const stream = new ReadStream(term.fd);
  stream.on("data", (chunk: Buffer) => deliver(chunk));
  // Neither is expected while the slave is held; if one comes anyway, the output is over.
  const ended = () => {
    outputEnded = true;
    finish();
  };
  stream.on("end", ended);
  stream.on("error", ended);

  /** After the exit: everything still queued goes out, then the terminal closes, then onExit. */
  function finish(): void {
    if (finished || !exit || paused) return;
    // What the stream holds (a chunk read just before a pause), then what the kernel holds.
    while (!stream.destroyed && stream.readableLength > 0) {
      if (stream.read() === null) break; // read() hands the chunk to the "data" listener
      if (paused) return;
    }
    if (!outputEnded) {
      const buffer = Buffer.allocUnsafe(READ_CHUNK);
      for (;;) {
        let size: number;
        try {
          size = readSync(term.fd, buffer, 0, READ_CHUNK, null);
        } catch {
          break; // EAGAIN: drained (EIO: hung up, nothing more either)
        }
        if (size === 0) break;
        deliver(Buffer.from(buffer.subarray(0, size)));
        if (paused) return;
      }
    }
    finished = true;
    if (slave !== null) closeSync(slave);
    slave = null;
    stream.destroy();
    const result = exit;
    for (const callback of exitCallbacks) callback(result);
  }

  return {
    pid: term.pid,
    onData(callback) {
      dataCallbacks.push(callback);
    },
    write(data) {
      if (finished || exit) return true;
      return stream.write(data);
    },
    drain() {
      if (finished || exit || !stream.writableNeedDrain) return Promise.resolve();
      return new Promise((resolve) => {
        const done = () => {
          stream.off("drain", done);
          stream.off("close", done);
          resolve();
        };
        stream.on("drain", done);
        stream.on("close", done);
      });
    },
    resize(cols, rows) {
      assertSize(cols, rows);
      if (!finished) native.resize(term.fd, cols, rows);
    },
    kill(signal = "SIGHUP") {
      // After the exit the pid may already belong to another process.
      if (exit) return;
      try {
        process.kill(term.pid, signal);
      } catch {
        // exited between the check and the signal
      }
    },
    onExit(callback) {
      exitCallbacks.push(callback);
    },
    pause() {
      paused = true;
      stream.pause();
    },
    resume() {
      if (!paused) return;
      paused = false;
      if (finished) return;
      stream.resume();
      finish();
    },
  };
}

function assertSize(cols: number, rows: number): void {
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 0xffff || rows > 0xffff) {
    throw new RangeError(`a terminal size must be whole numbers from 1 to 65535, not ${cols}x${rows}`);
  }
}

function signalName(signal: number): string {
  const entry = Object.entries(osConstants.signals).find(([, number]) => number === signal);
  return entry ? entry[0] : `SIG${signal}`;
}
