// Keeps the supervisor's link to the control plane up. The supervisor dials out (never
// listens: a sandbox needs no inbound port, and nothing the sandbox can write decides where
// the control plane connects), introduces itself with the preface (link/preface.ts), and
// once the control plane answers OK serves HTTP/2 on the connection. When the link drops
// (control plane restarted, killed, upgraded) it dials again with a short capped back-off,
// forever: a dropped link is not a dead sandbox. A refusal (wrong protocol, bad token) is
// logged and retried slowly, since a newer control plane may accept it. So is an endpoint
// that cannot prove who it is (its TLS certificate does not verify): it may be fixed.

import type { Socket } from "node:net";
import { formatHello, type Hello, PrefaceError, PrefaceReader, parseAnswer } from "../link/preface.ts";
import { type Connect, isNetworkError } from "./link-connect.ts";

/** The same failure is logged at most this often (a dial every 5 s would flood the log). */
const FAILURE_LOG_INTERVAL_MS = 60_000;

export interface DialerOptions {
  /** Opens a connection to the control plane (local driver: its unix socket; Kubernetes: TLS). */
  connect: Connect;
  hello: () => Hello;
  /** Takes a connection the control plane accepted (to serve HTTP/2 on it). */
  accept(socket: Socket): void;
  /** Called once, right after the first hello went out: the supervisor loads the rest of
   *  itself while the control plane reads the hello (start-up is on the create path). */
  afterFirstHello?: () => void;
  log: (message: string) => void;
  /** Back-off bounds (ms) after a drop; a refusal waits refusedDelayMs. */
  minDelayMs?: number;
  maxDelayMs?: number;
  refusedDelayMs?: number;
}

export class Dialer {
  #stopped = false;
  #socket: Socket | null = null;
  #timer: NodeJS.Timeout | null = null;
  #delay: number;
  #connectedOnce = false;
  #lastFailure: { message: string; at: number } | null = null;

  constructor(private readonly options: DialerOptions) {
    this.#delay = options.minDelayMs ?? 10;
  }

  start(): void {
    this.#dial();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#socket?.destroy();
  }

  #retry(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#dial(), delayMs);
  }

  #backoff(): number {
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.options.maxDelayMs ?? 500);
    return delay;
  }

  /** Logs a failure unless the same one was logged within FAILURE_LOG_INTERVAL_MS. */
  #logFailure(message: string): void {
    const now = Date.now();
    const last = this.#lastFailure;
    if (last && last.message === message && now - last.at < FAILURE_LOG_INTERVAL_MS) return;
    this.#lastFailure = { message, at: now };
    this.options.log(message);
  }

  #dial(): void {
    if (this.#stopped) return;
    let ready = false;
    const socket = this.options.connect(() => {
      ready = true;
      socket.write(formatHello(this.options.hello()));
      const first = this.options.afterFirstHello;
      this.options.afterFirstHello = undefined;
      first?.();
    });
    this.#socket = socket;
    const reader = new PrefaceReader();
    let linked = false;
    let refused = false;
    const onData = (chunk: Buffer) => {
      let got: ReturnType<PrefaceReader["push"]>;
      try {
        got = reader.push(chunk);
        if (!got) return;
        const answer = parseAnswer(got.line);
        if (!answer.ok) {
          refused = true;
          this.#logFailure(`the control plane refused the link: ${answer.code}: ${answer.message}`);
          socket.destroy();
          return;
        }
        socket.off("data", onData);
        socket.pause();
        if (got.rest.length) socket.unshift(got.rest);
        linked = true;
        this.#lastFailure = null;
        this.#delay = this.options.minDelayMs ?? 10;
        if (this.#connectedOnce) this.options.log(`link to the control plane is back (protocol ${answer.protocol})`);
        this.#connectedOnce = true;
        this.options.accept(socket);
      } catch (error) {
        this.#logFailure(`bad answer from the control plane: ${error instanceof PrefaceError ? error.message : String(error)}`);
        socket.destroy();
      }
    };
    socket.on("data", onData);
    socket.on("error", (error) => {
      // Before `ready`: not reachable (silent, quick redial) or not provably the control
      // plane (logged, slow redial, like a refusal).
      if (ready || isNetworkError(error)) return;
      refused = true;
      this.#logFailure(`cannot link to the control plane: ${error.message}`);
    });
    // The control plane never half-closes a link: its end of the connection means the link
    // is gone. Without this, an HTTP/2 stream still open on our side (a preview's tunnel) can
    // keep the socket half-open, and the supervisor would never learn that it must redial.
    socket.once("end", () => socket.destroy());
    socket.once("close", () => {
      if (this.#socket === socket) this.#socket = null;
      if (linked) this.options.log("link to the control plane dropped; dialling again");
      this.#retry(refused ? (this.options.refusedDelayMs ?? 5000) : this.#backoff());
    });
  }
}
