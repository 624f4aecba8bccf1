// A terminal WebSocket as a browser tab (or `outpost shell`) uses it: connect to
// /api/v1/sandboxes/{id}/terminals/{tid}, read what the screen shows (test/helpers/screen.ts),
// type, resize. A refused upgrade resolves with its HTTP status and error body instead.
import WebSocket from "ws";
import { TerminalView } from "./screen.ts";

export interface TerminalMessage {
  type: string;
  [key: string]: unknown;
}

export interface TerminalSocket {
  socket: WebSocket;
  view: TerminalView;
  /** The first text message: the terminal it is attached to. */
  terminal: TerminalMessage & { id: string; pid: number; cols: number; rows: number; created: boolean };
  /** Every text message, in order. */
  messages: TerminalMessage[];
  type(text: string): void;
  resize(cols: number, rows: number): void;
  /** A socket opened `stalled` starts reading. */
  unstall(): void;
  /** Resolves with the close code once the socket has closed. */
  closed: Promise<number>;
  close(): Promise<number>;
}

export interface Refused {
  status: number;
  body: any;
}

export interface ConnectOptions {
  token?: string | null;
  cookie?: string;
  origin?: string;
  cols?: number;
  rows?: number;
  /** Reads nothing from the network after the first message, until unstall(). */
  stalled?: boolean;
}

export function terminalUrl(server: { url: string }, sandbox: string, tid: string, options: { cols?: number; rows?: number } = {}): string {
  const query = options.cols !== undefined ? `?cols=${options.cols}&rows=${options.rows}` : "";
  return `${server.url.replace(/^http/, "ws")}/api/v1/sandboxes/${sandbox}/terminals/${tid}${query}`;
}

/** Opens a terminal socket; resolves once the first message (the terminal) came, or with the refusal. */
export function connectTerminal(
  server: { url: string; token: string },
  sandbox: string,
  tid: string,
  options: ConnectOptions = {},
): Promise<TerminalSocket | Refused> {
  const token = options.token === undefined ? server.token : options.token;
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.cookie) headers.cookie = options.cookie;
  const socket = new WebSocket(terminalUrl(server, sandbox, tid, options), { headers, ...(options.origin ? { origin: options.origin } : {}) });
  const view = new TerminalView(options.cols, options.rows);
  const messages: TerminalMessage[] = [];
  const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    socket.once("unexpected-response", (_request, response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {}
        resolve({ status: response.statusCode ?? 0, body });
        socket.terminate();
      });
    });
    socket.once("error", (error) => reject(error));
    // A client that stops reading (stall()) stays stopped until it reads again (unstall()).
    let stalled = false;
    // Output is fed to the screen in order: each message waits for the one before it. Like a
    // browser tab whose terminal is busy, the socket is not read while the screen lags.
    let queue = Promise.resolve();
    let pending = 0;
    socket.on("message", (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      pending += 1;
      if (pending === 16) socket.pause();
      queue = queue.then(async () => {
        pending -= 1;
        if (pending === 0 && !stalled) socket.resume();
        if (isBinary) return view.output(bytes, pending > 0);
        const message = JSON.parse(bytes.toString("utf8")) as TerminalMessage;
        messages.push(message);
        if (message.type === "terminal") {
          if (options.stalled) {
            stalled = true;
            socket.pause();
          }
          resolve({
            socket,
            view,
            terminal: message as TerminalSocket["terminal"],
            messages,
            type: (text) => socket.send(Buffer.from(text), { binary: true }),
            resize: (cols, rows) => socket.send(JSON.stringify({ type: "resize", cols, rows })),
            unstall: () => {
              stalled = false;
              socket.resume();
            },
            closed,
            close: () => {
              socket.close();
              return closed;
            },
          });
        } else if (message.type === "screen") view.redraw(message.cols as number, message.rows as number);
        else if (message.type === "exit") view.ended({ exitCode: message.exitCode as number | null, signal: message.signal as string | null });
        else view.notice();
      });
    });
    void closed.then(() => queue.then(() => view.closed || view.ended(null)));
  });
}

export function isRefused(value: TerminalSocket | Refused): value is Refused {
  return "status" in value;
}

/** Connects and insists on success. */
export async function openTerminal(
  server: { url: string; token: string },
  sandbox: string,
  tid: string,
  options: ConnectOptions = {},
): Promise<TerminalSocket> {
  const result = await connectTerminal(server, sandbox, tid, options);
  if (isRefused(result)) throw new Error(`the terminal socket was refused: ${result.status} ${JSON.stringify(result.body)}`);
  return result;
}
