// Delivers new events to open streams. The events table is the truth; PostgreSQL
// LISTEN/NOTIFY only says "look again", so several control-plane replicas sharing one
// database all wake up, and a lost notification costs latency, never an event: every
// subscriber also re-reads on a slow timer and whenever the listener reconnects.
import { EventEmitter } from "node:events";
import pg from "pg";
import { EVENTS_CHANNEL } from "../store/events.ts";

export interface EventHubOptions {
  connection: pg.ClientConfig;
  log: { warn: (obj: object, msg: string) => void };
  /** Backoff before reconnecting the listener after it lost the database. */
  reconnectDelayMs?: number;
  /** The NOTIFY channel to listen on (default: the global events'; run events have their own). */
  channel?: string;
}

export class EventHub {
  readonly #wake = new EventEmitter();
  #client: pg.Client | null = null;
  #closed = false;
  #reconnectTimer: NodeJS.Timeout | null = null;

  constructor(private readonly options: EventHubOptions) {
    this.#wake.setMaxListeners(0);
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.options.connection);
    client.on("notification", () => this.#wake.emit("wake"));
    client.on("error", (error) => this.#lost(client, error));
    client.on("end", () => this.#lost(client, new Error("listener connection ended")));
    await client.connect();
    await client.query(`listen ${this.options.channel ?? EVENTS_CHANNEL}`);
    this.#client = client;
    // Anything committed while we were not listening is picked up by the re-read.
    this.#wake.emit("wake");
  }

  /** Wakes this process's subscribers at once, for events it has just committed itself
   * (the NOTIFY that follows reaches the other replicas, and wakes these again: harmless). */
  poke(): void {
    this.#wake.emit("wake");
  }

  /** Calls `onWake` whenever new events may exist; returns the unsubscribe function. */
  subscribe(onWake: () => void): () => void {
    this.#wake.on("wake", onWake);
    return () => this.#wake.off("wake", onWake);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => {});
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#client !== client || this.#closed) return;
    this.#client = null;
    this.options.log.warn({ err: error.message }, "event listener lost the database; reconnecting");
    const retry = () => {
      this.#reconnectTimer = null;
      if (this.#closed) return;
      this.start().catch(() => {
        this.#reconnectTimer = setTimeout(retry, this.options.reconnectDelayMs ?? 1000);
      });
    };
    this.#reconnectTimer = setTimeout(retry, this.options.reconnectDelayMs ?? 1000);
  }
}
