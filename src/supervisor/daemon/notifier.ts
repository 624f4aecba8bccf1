// A change counter that async readers can wait on without missing a change: take
// `version` before looking, then wait(version) resolves at once if something changed in
// between. Used by log followers to wake up on new records or on exit.
export class Notifier {
  private counter = 0;
  private waiters = new Set<() => void>();

  get version(): number {
    return this.counter;
  }

  notify(): void {
    this.counter++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const wake of waiters) wake();
  }

  /** Resolves once version > since, or when `signal` aborts (the caller checks which). */
  wait(since: number, signal?: AbortSignal): Promise<void> {
    if (this.counter > since || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.waiters.delete(wake);
        signal?.removeEventListener("abort", wake);
        resolve();
      };
      this.waiters.add(wake);
      signal?.addEventListener("abort", wake, { once: true });
    });
  }
}
