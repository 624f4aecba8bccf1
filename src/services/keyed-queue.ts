// Work that must not overlap per key (per sandbox: two git operations would race for the
// index lock, two checkpoints for the bundle chain): each call runs after the ones queued
// before it under the same key, whatever their outcome. Keys with nothing queued are dropped.
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(work);
    const settled = next.catch(() => {});
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return next;
  }
}
