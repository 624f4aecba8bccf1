// Keeps the supervisor's link to the control plane up. The supervisor dials out (never
// listens: a sandbox needs no inbound port, and nothing the sandbox can write decides where
// the control plane connects), introduces itself with the preface (link/preface.ts), and
// once the control plane answers OK serves HTTP/2 on the connection. When the link drops
// (control plane restarted, killed, upgraded) it dials again with a short capped back-off,
// forever: a dropped link is not a dead sandbox. A refusal (wrong protocol, bad token) is
// logged and retried slowly, since a newer control plane may accept it.

import { connect, type Socket } from "node:net";
import { formatHello, type Hello, PrefaceError, PrefaceReader, parseAnswer } from "../link/preface.ts";

export interface DialerOptions {
  /** The control plane's socket for this sandbox (local driver: /run/outpost/link.sock). */
  path: string;
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

  #dial(): void {
    if (this.#stopped) return;
    const socket = connect(this.options.path);
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
          this.options.log(`the control plane refused the link: ${answer.code}: ${answer.message}`);
          socket.destroy();
          return;
        }
        socket.off("data", onData);
        socket.pause();
        if (got.rest.length) socket.unshift(got.rest);
        linked = true;
        this.#delay = this.options.minDelayMs ?? 10;
        if (this.#connectedOnce) this.options.log(`link to the control plane is back (protocol ${answer.protocol})`);
        this.#connectedOnce = true;
        this.options.accept(socket);
      } catch (error) {
        this.options.log(`bad answer from the control plane: ${error instanceof PrefaceError ? error.message : String(error)}`);
        socket.destroy();
      }
    };
    socket.on("data", onData);
    socket.once("connect", () => {
      socket.write(formatHello(this.options.hello()));
      const first = this.options.afterFirstHello;
      this.options.afterFirstHello = undefined;
      first?.();
    });
    socket.on("error", () => {});
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
