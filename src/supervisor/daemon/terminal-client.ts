// One client attached to a terminal session: frames go out on its stream as fast as it
// reads them, and never pile up. The shell is not slowed down for a slow client (other
// clients and the screen keep up with it), so while the stream is full the client's live
// output is queued up to MAX_CLIENT_LAG_BYTES; past that the queue is dropped and the client
// is "behind": once its stream drains it is sent a fresh redraw of the screen instead of
// what it missed (like a terminal multiplexer redrawing a reattached client). Memory per
// client is therefore bounded by the lag bound plus one redraw.
import { encodeFrame, encodeJsonFrame, FRAME } from "../frames.ts";
import type { TerminalExit } from "../protocol.ts";

/** Live output queued for a client whose stream is full, before it is dropped for a redraw. */
export const MAX_CLIENT_LAG_BYTES = 1024 * 1024;
/** A redraw is sent in stdout frames of at most this size. */
const SCREEN_CHUNK_BYTES = 64 * 1024;

/** Where a client's frames go (the attach stream's response). */
export interface ClientSink {
  /** False: the stream is full; wait for drain() before writing more. */
  write(chunk: Buffer): boolean;
  drain(): Promise<void>;
  end(): void;
  readonly closed: boolean;
}

export class AttachedClient {
  #queue: Array<{ frame: Buffer; live: boolean }> = [];
  #liveQueued = 0;
  #waiting = false;
  #behind = false;
  #ending = false;

  constructor(
    private readonly sink: ClientSink,
    /** Called when a client that fell behind can take a redraw (its stream drained). */
    private readonly wantsRedraw: (client: AttachedClient) => void,
    private readonly maxLagBytes = MAX_CLIENT_LAG_BYTES,
  ) {}

  get behind(): boolean {
    return this.#behind;
  }

  get closed(): boolean {
    return this.sink.closed;
  }

  /** Live output; dropped while the client is behind (a redraw will cover it). */
  output(chunk: Buffer): void {
    if (this.#behind || this.#ending) return;
    this.#send(encodeFrame(FRAME.stdout, chunk), true);
  }

  /** The whole screen (a `screen` frame, then the redraw's bytes); the client is current again. */
  screen(cols: number, rows: number, redraw: string): void {
    if (this.#ending) return;
    this.#behind = false;
    this.#send(encodeJsonFrame(FRAME.screen, { cols, rows }), false);
    const bytes = Buffer.from(redraw, "utf8");
    for (let offset = 0; offset < bytes.length; offset += SCREEN_CHUNK_BYTES) {
      this.#send(encodeFrame(FRAME.stdout, bytes.subarray(offset, offset + SCREEN_CHUNK_BYTES)), false);
    }
  }

  /** The shell ended: the exit frame goes after everything queued, then the stream ends. */
  exit(exit: TerminalExit & { durationMs: number }): void {
    if (this.#ending) return;
    const { exitCode, signal, durationMs } = exit;
    this.#send(encodeJsonFrame(FRAME.exit, { exitCode, signal, timedOut: false, durationMs }), false);
    this.#ending = true;
    if (!this.#waiting) this.sink.end();
  }

  #send(frame: Buffer, live: boolean): void {
    if (this.sink.closed) return;
    if (!this.#waiting) {
      if (!this.sink.write(frame)) void this.#drain();
      return;
    }
    if (live && this.#liveQueued + frame.length > this.maxLagBytes) {
      // Too far behind: what is queued is dropped, a redraw replaces it once the stream drains.
      this.#queue = [];
      this.#liveQueued = 0;
      this.#behind = true;
      return;
    }
    this.#queue.push({ frame, live });
    if (live) this.#liveQueued += frame.length;
  }

  async #drain(): Promise<void> {
    this.#waiting = true;
    for (;;) {
      await this.sink.drain();
      if (this.sink.closed) {
        this.#queue = [];
        this.#liveQueued = 0;
        return;
      }
      let full = false;
      while (this.#queue.length > 0 && !full) {
        const { frame, live } = this.#queue.shift() as { frame: Buffer; live: boolean };
        if (live) this.#liveQueued -= frame.length;
        full = !this.sink.write(frame);
      }
      if (full) continue;
      this.#waiting = false;
      if (this.#ending) this.sink.end();
      else if (this.#behind) this.wantsRedraw(this);
      return;
    }
  }
}
