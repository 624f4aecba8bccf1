// Work that must not overlap per key (per sandbox: two git operations would race for the
// index lock, two checkpoints for the bundle chain): each call runs after the ones queued
// before it under the same key, whatever their outcome. Keys with nothing queued are dropped.
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  /** With `signal`: given up (rejected) when it aborts while still waiting its turn or working. */
  run<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(() => {
        signal?.throwIfAborted();
        return work();
      });
    const settled = next.catch(() => {});
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    if (!signal) return next;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
      next.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }
}
