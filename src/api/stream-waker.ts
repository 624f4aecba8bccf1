// The wait between two reads of a stream backed by the store: until the hub says "look
// again" (NOTIFY, or an in-process poke), the safety poll comes round, or the client leaves.
// A wake-up that arrives while a read is under way is remembered (`pending`), so the next
// wait returns at once and no event waits for the safety poll.

export interface WakeSource {
  subscribe(onWake: () => void): () => void;
}

export class StreamWaker {
  #pending = false;
  #wake: (() => void) | null = null;
  readonly #unsubscribe: () => void;
  readonly #onAbort = () => this.#wake?.();

  constructor(
    hub: WakeSource,
    private readonly signal: AbortSignal,
    private readonly safetyPollMs: number,
  ) {
    this.#unsubscribe = hub.subscribe(() => {
      this.#pending = true;
      this.#wake?.();
    });
    // One abort listener for the stream's whole life, not one per wait.
    signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Call before each read: wake-ups from here on count for the next wait. */
  beforeRead(): void {
    this.#pending = false;
  }

  /** Resolves on a wake-up (at once if one came during the read), the safety poll, or abort. */
  async wait(): Promise<void> {
    if (this.#pending || this.signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, this.safetyPollMs);
      this.#wake = done;
    });
  }

  close(): void {
    this.signal.removeEventListener("abort", this.#onAbort);
    this.#unsubscribe();
  }
}
