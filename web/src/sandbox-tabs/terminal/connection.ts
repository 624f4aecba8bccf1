// One browser terminal's link to a terminal session in the sandbox: the WebSocket at
// GET /api/v1/sandboxes/{id}/terminals/{tid} (src/api/terminal-socket.ts has the protocol).
//   server → here: text {type:"terminal", …Terminal, created} first, then binary output;
//     text {type:"screen",cols,rows} before each whole-screen redraw (it starts with a
//     reset); {type:"exit",exitCode,signal} when the shell ends; {type:"error",…} when the
//     link to the sandbox broke.
//   here → server: input as binary messages, {type:"resize",cols,rows} as text.
// The session lives in the sandbox, not in this socket: when the socket drops (network,
// control-plane restart, laptop asleep) this reattaches to the same terminal, and the
// server's first redraw restores the screen. Before reattaching it asks the REST route
// whether the terminal still exists, because a refused WebSocket upgrade tells a browser
// nothing (no status, no body).
import { ApiError, api, type Schemas, unwrap } from "../../api/client.ts";

export type TerminalInfo = Schemas["Terminal"];

export type TerminalState =
  | { kind: "connecting" }
  | { kind: "open" }
  /** The socket dropped; trying again (the shell keeps running meanwhile). */
  | { kind: "reconnecting"; reason: string }
  | { kind: "exited"; exitCode: number | null; signal: string | null }
  /** The terminal no longer exists (closed elsewhere, or the sandbox restarted). */
  | { kind: "gone"; message: string }
  /** Refused for good (e.g. the role changed): asking again will not help. */
  | { kind: "failed"; error: ApiError };

export interface TerminalHandlers {
  /** The size to attach with (the terminal fitted to its box); null: keep the terminal's own (a hidden tab has no box to fit). */
  size(): { cols: number; rows: number } | null;
  onAttached(terminal: TerminalInfo, created: boolean): void;
  /** A whole-screen redraw at this size follows in the next output. */
  onScreen(cols: number, rows: number): void;
  onOutput(bytes: Uint8Array): void;
  onState(state: TerminalState): void;
}

/** Reconnect delays: at once the first time, then up to every 10 s. */
const backoffMs = (failures: number) => (failures <= 1 ? 0 : Math.min(10_000, 500 * 2 ** Math.min(failures - 2, 5)));

const encoder = new TextEncoder();

export class TerminalConnection {
  readonly #sandboxId: string;
  readonly #handlers: TerminalHandlers;
  #tid: string | null;
  #socket: WebSocket | null = null;
  #failures = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Closed by us (detach) or ended for good (exit, gone, failed): no reconnect. */
  #done = false;
  /** The socket got its `terminal` message: it is attached. */
  #attached = false;

  /** `tid` null: opens a new terminal (`new`) and attaches to it. */
  constructor(sandboxId: string, tid: string | null, handlers: TerminalHandlers) {
    this.#sandboxId = sandboxId;
    this.#tid = tid;
    this.#handlers = handlers;
    this.#open();
  }

  /** The terminal's id, once known. */
  get id(): string | null {
    return this.#tid;
  }

  /** Input as typed (xterm's onData) or raw bytes (onBinary). Dropped while not attached. */
  send(data: string | Uint8Array): void {
    if (!this.#attached || this.#socket?.readyState !== WebSocket.OPEN) return;
    this.#socket.send(typeof data === "string" ? encoder.encode(data) : data);
  }

  resize(cols: number, rows: number): void {
    if (!this.#attached || this.#socket?.readyState !== WebSocket.OPEN) return;
    this.#socket.send(JSON.stringify({ type: "resize", cols, rows }));
  }

  /** Detaches: the shell keeps running in the sandbox. */
  close(): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000, "detached");
    this.#socket = null;
  }

  #url(): string {
    const size = this.#handlers.size();
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const path = `/api/v1/sandboxes/${encodeURIComponent(this.#sandboxId)}/terminals/${this.#tid ?? "new"}`;
    return `${scheme}//${location.host}${path}${size ? `?cols=${size.cols}&rows=${size.rows}` : ""}`;
  }

  #open(): void {
    if (this.#done) return;
    this.#attached = false;
    if (this.#failures === 0) this.#handlers.onState({ kind: "connecting" });
    const socket = new WebSocket(this.#url());
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onmessage = (message) => {
      if (this.#socket !== socket) return;
      if (message.data instanceof ArrayBuffer) this.#handlers.onOutput(new Uint8Array(message.data));
      else this.#control(String(message.data));
    };
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      if (this.#done) return;
      const reason = this.#attached ? "The connection dropped." : "The terminal could not be reached.";
      this.#attached = false;
      this.#failures++;
      this.#handlers.onState({ kind: "reconnecting", reason: event.reason ? `${reason} (${event.reason})` : reason });
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => void this.#reattach(), backoffMs(this.#failures));
    };
  }

  #control(text: string): void {
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    if (message.type === "terminal") {
      const { type: _type, created, ...terminal } = message;
      this.#tid = String(terminal.id);
      this.#attached = true;
      this.#failures = 0;
      this.#handlers.onAttached(terminal as unknown as TerminalInfo, created === true);
      this.#handlers.onState({ kind: "open" });
    } else if (message.type === "screen") {
      this.#handlers.onScreen(Number(message.cols), Number(message.rows));
    } else if (message.type === "exit") {
      this.#finish({ kind: "exited", exitCode: (message.exitCode as number | null) ?? null, signal: (message.signal as string | null) ?? null });
    } else if (message.type === "error") {
      const error = new ApiError(502, message as never);
      // The link to the sandbox broke (retryable: the socket closes and we come back), or
      // the server refused something we sent (a bug here: nothing to retry).
      if (message.retryable === false && message.code !== "VALIDATION_FAILED") this.#finish({ kind: "failed", error });
    }
  }

  /** Ends for good: no reconnect, the socket is let go. */
  #finish(state: TerminalState): void {
    this.#done = true;
    clearTimeout(this.#timer);
    this.#socket?.close(1000);
    this.#socket = null;
    this.#handlers.onState(state);
  }

  /** After a drop: is the terminal still there? Then attach again; else say why not. */
  async #reattach(): Promise<void> {
    if (this.#done) return;
    // A `new` that never got its terminal: the server closed what it opened; open another.
    if (this.#tid === null) return this.#open();
    try {
      unwrap(await api.GET("/api/v1/sandboxes/{id}/terminals/{tid}", { params: { path: { id: this.#sandboxId, tid: this.#tid } } }));
    } catch (error) {
      if (this.#done) return;
      if (error instanceof ApiError && error.code === "TERMINAL_NOT_FOUND") {
        return this.#finish({ kind: "gone", message: "This terminal no longer exists: its shell ended, or the sandbox restarted." });
      }
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) return this.#finish({ kind: "failed", error });
      // The sandbox is stopped or restarting, the server is restarting: try again later.
      this.#failures++;
      const reason = error instanceof ApiError ? error.message : "The server does not answer.";
      this.#handlers.onState({ kind: "reconnecting", reason });
      this.#timer = setTimeout(() => void this.#reattach(), backoffMs(this.#failures));
      return;
    }
    this.#open();
  }
}
