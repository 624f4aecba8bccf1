// The kubelet's restart and retry back-off, sped up for tests: 50 ms doubling to 2 s (a real
// node waits 10 s doubling to 5 min). Sleeps can be cut short: when a pod is deleted, when the
// kubelet stops, or when a test clears a failure it injected.
export const BACK_OFF_START_MS = 50;
export const BACK_OFF_MAX_MS = 2000;

export class BackOff {
  #next: number;

  constructor(
    private readonly startMs = BACK_OFF_START_MS,
    private readonly maxMs = Math.max(startMs, BACK_OFF_MAX_MS),
  ) {
    this.#next = startMs;
  }

  /** Returns the delay to wait now and doubles the next one. */
  step(): number {
    const delay = this.#next;
    this.#next = Math.min(this.#next * 2, this.maxMs);
    return delay;
  }

  reset(): void {
    this.#next = this.startMs;
  }
}

export class Wakeable {
  readonly #sleepers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }

  wake(): void {
    for (const done of [...this.#sleepers]) done();
  }
}
