// `outpost shell <sandbox>`: a terminal in the sandbox, in the user's own terminal. It is a
// persistent session kept by the sandbox (docs/api.md, "Terminals"): closing this command
// (or losing the connection) detaches, and `--terminal <id>` comes back to it with its
// screen. Raw mode while attached, the size follows the window (SIGWINCH), and the user's
// terminal is put back as it was on the way out, whatever the remote program left on.
// Without a TTY the bytes are piped: stdin is typed into the shell and the output goes to
// stdout, backpressure included. The end of stdin is typed as ^D, which ends a shell waiting
// at its prompt (or a program reading its input); a shell busy with a command when it comes
// may miss it (the terminal is not in the mode that reads ^D then), so a script piped in
// should end with `exit`.
import WebSocket from "ws";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, type Connection, resolveConnection } from "../client.ts";
import { printJson, table } from "../output.ts";

export const shellHelp = `outpost shell <sandbox> [--terminal ID] [--root]
  A terminal in the sandbox (a login shell in /workspace). It keeps running when you leave:
  detach with Enter ~ . (or close the window) and come back with --terminal ID.
  --root: a new terminal as root inside (sandboxes whose environment has an image; never root on the host).
  Exit code: the shell's; 0 after a detach.
outpost shell <sandbox> --list          the sandbox's terminals
outpost shell <sandbox> --kill ID       close one (hangs its shell up)`;

interface Terminal {
  id: string;
  pid: number;
  cols: number;
  rows: number;
  clients: number;
  createdAt: string;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

/** What a remote program may have turned on, turned off again: a hidden cursor, mouse
 * reporting, bracketed paste, application cursor keys and keypad. */
const RESTORE_MODES = "\x1b[?25h\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l\x1b[?1l\x1b>";
/** Leaves the alternate screen (only sent when a program is on it: it also moves the cursor). */
const LEAVE_ALTERNATE_SCREEN = "\x1b[?1049l";

export async function shell(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    terminal: { type: "string" },
    list: { type: "boolean", default: false },
    kill: { type: "string" },
    root: { type: "boolean", default: false },
  });
  const [ref, ...extra] = positionals;
  if (!ref || extra.length) throw new UsageError("outpost shell takes exactly one sandbox");
  const connection = resolveConnection(values);
  const base = `/api/v1/sandboxes/${encodeURIComponent(ref)}/terminals`;
  if (values.list) {
    const list = await new ApiClient(connection).request<{ items: Terminal[] }>("GET", base);
    if (values.json) printJson(list);
    else
      console.log(
        table(
          list.items.map((t) => ({ ...t, size: `${t.cols}x${t.rows}` })),
          ["id", "pid", "size", "clients", "createdAt"],
        ),
      );
    return 0;
  }
  if (values.kill) {
    await new ApiClient(connection).request("DELETE", `${base}/${encodeURIComponent(values.kill)}`);
    if (!values.json) console.log(`closed ${values.kill}`);
    return 0;
  }
  if (values.root) {
    if (values.terminal) throw new UsageError("--root opens a new terminal; --terminal attaches to one that runs as whoever opened it");
    // The WebSocket's `new` opens terminals as the sandbox user: one as root is opened over HTTP first.
    const size = process.stdout.isTTY ? { cols: process.stdout.columns, rows: process.stdout.rows } : {};
    const opened = await new ApiClient(connection).request<Terminal>("POST", base, { ...size, user: "root" });
    return attach(connection, `${base}/${encodeURIComponent(opened.id)}`, ref);
  }
  return attach(connection, `${base}/${encodeURIComponent(values.terminal ?? "new")}`, ref);
}

/**
 * A new terminal in the sandbox whose shell is replaced by `command` (typed into it as
 * `exec …`, as a user would): `outpost db <project> psql`. Detaching leaves it running.
 */
export function shellCommand(connection: Connection, sandbox: string, command: string): Promise<number> {
  return attach(connection, `/api/v1/sandboxes/${encodeURIComponent(sandbox)}/terminals/new`, sandbox, `exec ${command}\r`);
}

async function attach(connection: Connection, path: string, ref: string, typed?: string): Promise<number> {
  const { stdin, stdout, stderr } = process;
  const size = stdout.isTTY ? { cols: stdout.columns, rows: stdout.rows } : null;
  const { socket, opened } = connect(connection, size ? `${path}?cols=${size.cols}&rows=${size.rows}` : path);
  let terminalId = "";
  let exit: { exitCode: number | null; signal: string | null } | null = null;
  let failure: { code?: string; message?: string; hint?: string } | null = null;
  let detached = false;
  const screen = new ScreenTracker();

  // Output, written only as fast as the terminal (or pipe) takes it.
  socket.on("message", (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      screen.see(bytes);
      if (!stdout.write(bytes)) {
        socket.pause();
        stdout.once("drain", () => socket.resume());
      }
      return;
    }
    const message = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    if (message.type === "terminal") terminalId = String(message.id);
    else if (message.type === "exit") exit = { exitCode: message.exitCode as number | null, signal: message.signal as string | null };
    else if (message.type === "error") failure = message;
  });
  // Only now: the first messages may come in the same read as the handshake's answer, and
  // ws hands them out before an `await` on the open event would return.
  await opened;
  if (typed) socket.send(Buffer.from(typed), { binary: true });

  // Input: raw keystrokes from a TTY (with the detach escape), or the bytes of a pipe.
  const raw = stdin.isTTY === true;
  const detachEscape = new DetachEscape();
  const onInput = (chunk: Buffer) => {
    const typed = raw ? detachEscape.filter(chunk) : chunk;
    if (typed === null) {
      detached = true;
      socket.close(1000, "detached");
      return;
    }
    if (typed.length > 0 && socket.readyState === WebSocket.OPEN) socket.send(typed, { binary: true });
  };
  const onEnd = () => {
    // ^D at the prompt ends the shell, as at a terminal.
    if (socket.readyState === WebSocket.OPEN) socket.send(Buffer.from([4]), { binary: true });
  };
  const onResize = () => {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resize", cols: stdout.columns, rows: stdout.rows }));
  };
  const onSignal = () => {
    detached = true;
    socket.close(1000, "detached");
  };
  if (raw) stdin.setRawMode(true);
  stdin.on("data", onInput);
  stdin.once("end", onEnd);
  if (stdout.isTTY) stdout.on("resize", onResize);
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  for (const signal of signals) process.on(signal, onSignal);

  const code = await new Promise<number>((resolve) => socket.once("close", (closeCode) => resolve(closeCode)));
  stdin.off("data", onInput);
  stdin.off("end", onEnd);
  stdin.pause();
  if (stdout.isTTY) stdout.off("resize", onResize);
  for (const signal of signals) process.off(signal, onSignal);
  if (raw) stdin.setRawMode(false);
  if (stdout.isTTY) await new Promise((resolve) => stdout.write(`${screen.alternate ? LEAVE_ALTERNATE_SCREEN : ""}${RESTORE_MODES}`, resolve));

  const finished = exit as { exitCode: number | null; signal: string | null } | null;
  if (finished) return finished.exitCode ?? 128 + (SIGNALS[finished.signal ?? ""] ?? 0);
  if (detached) {
    if (stderr.isTTY && terminalId) stderr.write(`\r\n[detached; the shell keeps running: outpost shell ${ref} --terminal ${terminalId}]\r\n`);
    return 0;
  }
  const error = failure as { code?: string; message?: string; hint?: string } | null;
  throw new ApiError(0, error?.code ?? "STREAM_BROKEN", error?.message ?? `the connection to Outpost closed (code ${code}); the shell keeps running`, {
    hint: error?.hint ?? (terminalId ? `outpost shell ${ref} --terminal ${terminalId} attaches again` : undefined),
  });
}

/** Opens the WebSocket (its listeners go on at once); a refused upgrade becomes the API's error (status, code, hint). */
function connect(connection: Connection, path: string): { socket: WebSocket; opened: Promise<void> } {
  const url = `${connection.url.replace(/^http/, "ws")}${path}`;
  const socket = new WebSocket(url, { headers: connection.token ? { authorization: `Bearer ${connection.token}` } : {} });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("unexpected-response", (_request, response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        socket.terminate();
        try {
          const { error } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          reject(new ApiError(response.statusCode ?? 0, error.code, error.message, { requestId: error.requestId, hint: error.hint }));
        } catch {
          reject(
            new ApiError(response.statusCode ?? 0, "NOT_OUTPOST", `the server at ${connection.url} did not answer like Outpost; check --url or OUTPOST_URL`),
          );
        }
      });
    });
    socket.once("error", () =>
      reject(new ApiError(0, "UNREACHABLE", `cannot reach Outpost at ${connection.url} (is \`npm start\` running? set --url or OUTPOST_URL)`)),
    );
  });
  return { socket, opened };
}

/** Whether the output left the terminal on the alternate screen (a full-screen program runs). */
export class ScreenTracker {
  alternate = false;
  #tail = "";

  see(bytes: Buffer): void {
    // A few bytes of the previous chunk: a sequence may be split between two.
    const text = this.#tail + bytes.toString("latin1");
    for (const match of text.matchAll(/\x1b\[\?(?:1049|1047|47)([hl])|\x1bc/g)) this.alternate = match[1] === "h";
    this.#tail = text.slice(-8);
  }
}

/** ssh's escape: `~.` right after Enter (or first thing) detaches; `~~` types one `~`. */
export class DetachEscape {
  #atLineStart = true;
  #tilde = false;

  /** The bytes to send, or null to detach. */
  filter(chunk: Buffer): Buffer | null {
    const out: number[] = [];
    for (const byte of chunk) {
      if (this.#tilde) {
        this.#tilde = false;
        if (byte === 0x2e) return null; // "."
        if (byte !== 0x7e) out.push(0x7e); // a held "~" that was not an escape after all
      } else if (this.#atLineStart && byte === 0x7e) {
        this.#tilde = true;
        this.#atLineStart = false;
        continue;
      }
      out.push(byte);
      this.#atLineStart = byte === 0x0d || byte === 0x0a;
    }
    return Buffer.from(out);
  }
}
