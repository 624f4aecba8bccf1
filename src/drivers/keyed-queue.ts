// Runs work for one key at a time, in order (a driver's operations on one sandbox: an
// ensure still launching while a remove deletes its storage would leave a half-made
// sandbox). Keys do not wait for each other; a failure does not block the next.
export class KeyedQueue {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const run = previous.then(work, work);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, settled);
    void settled.then(() => {
      if (this.#tails.get(key) === settled) this.#tails.delete(key);
    });
    return run;
  }
}
