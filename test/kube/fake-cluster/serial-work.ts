// Runs a controller's reconcile for one object at a time, never inside the API call that
// announced the change (the in-process store calls listeners synchronously, often while a
// controller is itself writing). Requests for a key that is already being reconciled
// collapse into one more pass afterwards, so repeated events cost one reconcile, and a pass
// always reads the current state. A failed pass is retried after a short pause.
export class SerialWork {
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Map<string, () => Promise<void> | void>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #stopped = false;

  constructor(
    private readonly onError: (key: string, error: unknown) => void,
    private readonly retryMs = 100,
  ) {}

  schedule(key: string, work: () => Promise<void> | void): void {
    if (this.#stopped) return;
    this.#again.set(key, work);
    if (!this.#running.has(key)) this.#running.set(key, this.#drain(key));
  }

  async #drain(key: string): Promise<void> {
    await Promise.resolve();
    try {
      for (let work = this.#again.get(key); work && !this.#stopped; work = this.#again.get(key)) {
        this.#again.delete(key);
        try {
          await work();
        } catch (error) {
          this.onError(key, error);
          this.#retryLater(key, work);
        }
      }
    } finally {
      this.#running.delete(key);
    }
  }

  #retryLater(key: string, work: () => Promise<void> | void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.schedule(key, work);
    }, this.retryMs);
    this.#timers.add(timer);
  }

  /** No new passes start; resolves once the running ones have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#again.clear();
    await Promise.all(this.#running.values());
  }
}
