// A reconcile loop for any kind of resource (sandboxes now; databases, previews and runs
// later register their own kind). What every kind gets:
//   - single flight per resource: a wake-up during a pass queues exactly one more pass;
//   - wake-ups from events, a slow resync of every live resource, and retries that the
//     kind asks for (`againAfterMs`), all on an injectable clock (tests use a fake one);
//   - a lease per resource, taken before a pass and renewed while it runs, so two
//     control-plane replicas never act on the same resource at once; a pass whose lease is
//     lost is aborted (the kind fences its writes with the lease too);
//   - newer intent cancels older work: a wake-up that finds a newer generation than the
//     one in flight aborts the pass's AbortSignal (a delete does not wait for a 30 s start).
// The kind owns what a pass does; this file owns when, and that it is never twice at once.

export interface Clock {
  now(): number;
  /** Runs `fn` after `ms`; returns a cancel function. Must not keep the process alive. */
  schedule(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface Versioned {
  id: string;
  generation: number;
}

export interface PassContext {
  signal: AbortSignal;
  /** This replica's lease name, for the kind's fenced writes. */
  holder: string;
}

export interface PassResult {
  /** Look at the resource again after this long (a retry, a grace period). */
  againAfterMs?: number;
}

export interface ResourceKind<R extends Versioned> {
  readonly name: string;
  /** Ids that may need work. */
  liveIds(): Promise<string[]>;
  /** Takes or renews `holder`'s lease and returns the resource; null when another replica
   *  holds it, or it is gone. */
  lease(id: string, holder: string, ttlMs: number): Promise<R | null>;
  release(id: string, holder: string): Promise<void>;
  /** The resource's current generation (cheap), to tell whether a pass in flight is stale. */
  generation(id: string): Promise<number | null>;
  pass(resource: R, context: PassContext): Promise<PassResult>;
  /** Work not tied to one resource, run on every resync (e.g. orphaned compute). */
  sweep?(signal: AbortSignal): Promise<void>;
}

export interface LoopOptions {
  /** Names this replica in leases (unique per process). */
  holder: string;
  clock?: Clock;
  /** How often every live resource is looked at (ms). */
  resyncMs?: number;
  /** A lease lasts this long unless renewed (ms); renewed every third of it. */
  leaseTtlMs?: number;
  log: { warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** Why a pass was aborted. */
export class Superseded extends Error {
  constructor(readonly reason: "newer generation" | "lease lost" | "stopping") {
    super(`reconcile pass aborted: ${reason}`);
    this.name = "Superseded";
  }
}

interface InFlight {
  generation: number;
  controller: AbortController;
  done: Promise<void>;
}

export class ReconcileLoop<R extends Versioned> {
  readonly #kind: ResourceKind<R>;
  readonly #options: LoopOptions;
  readonly #clock: Clock;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #again = new Set<string>();
  readonly #retries = new Map<string, () => void>();
  readonly #stopping = new AbortController();
  #cancelResync: (() => void) | null = null;

  constructor(kind: ResourceKind<R>, options: LoopOptions) {
    this.#kind = kind;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** Looks at every live resource now, then on every resync. */
  async start(): Promise<void> {
    for (const id of await this.#kind.liveIds()) this.wake(id);
    this.#scheduleResync();
  }

  async stop(): Promise<void> {
    this.#stopping.abort(new Superseded("stopping"));
    this.#cancelResync?.();
    for (const cancel of this.#retries.values()) cancel();
    this.#retries.clear();
    await Promise.allSettled([...this.#inFlight.values()].map((flight) => flight.done));
  }

  /** Looks at one resource: now, or right after the pass in flight (which a newer generation cancels). */
  wake(id: string): void {
    if (this.#stopping.signal.aborted) return;
    const flight = this.#inFlight.get(id);
    if (flight) {
      this.#again.add(id);
      void this.#cancelIfStale(id, flight);
      return;
    }
    const controller = new AbortController();
    const entry: InFlight = { generation: Number.NaN, controller, done: Promise.resolve() };
    this.#inFlight.set(id, entry);
    entry.done = this.#run(id, entry).finally(() => {
      this.#inFlight.delete(id);
      if (this.#again.delete(id)) this.wake(id);
    });
  }

  /** Resolves once the resource has no pass in flight (tests, shutdown). */
  async idle(id: string): Promise<void> {
    while (this.#inFlight.has(id)) await this.#inFlight.get(id)?.done;
  }

  /** Every live resource without a pass in flight is looked at; then the kind's sweep. */
  async resync(): Promise<void> {
    const ids = await this.#kind.liveIds().catch(() => [] as string[]);
    for (const id of ids) if (!this.#inFlight.has(id)) this.wake(id);
    await this.#kind.sweep?.(this.#stopping.signal).catch((error) => this.#options.log.error({ err: error, kind: this.#kind.name }, "sweep failed"));
  }

  #scheduleResync(): void {
    if (this.#stopping.signal.aborted) return;
    this.#cancelResync = this.#clock.schedule(this.#options.resyncMs ?? 10_000, () => {
      void this.resync().finally(() => this.#scheduleResync());
    });
  }

  async #run(id: string, flight: InFlight): Promise<void> {
    const { holder } = this.#options;
    const ttl = this.#options.leaseTtlMs ?? 30_000;
    let resource: R | null;
    try {
      resource = await this.#kind.lease(id, holder, ttl);
    } catch (error) {
      this.#options.log.error({ err: error, id, kind: this.#kind.name }, "could not take a lease");
      return;
    }
    // Gone, or another replica acts on it: that replica will; our resync looks again.
    if (!resource) return;
    flight.generation = resource.generation;
    const signal = AbortSignal.any([flight.controller.signal, this.#stopping.signal]);
    // A wake-up that came while the lease was being taken may already be newer.
    if (this.#again.has(id)) void this.#cancelIfStale(id, flight);
    // The lease is renewed while the pass runs; losing it aborts the pass.
    const clock = this.#clock;
    const kind = this.#kind;
    let cancelRenew = clock.schedule(ttl / 3, function renew() {
      void kind.lease(id, holder, ttl).then(
        (still) => {
          if (!still) flight.controller.abort(new Superseded("lease lost"));
          else if (!signal.aborted) cancelRenew = clock.schedule(ttl / 3, renew);
        },
        () => flight.controller.abort(new Superseded("lease lost")),
      );
    });
    try {
      const result = await this.#kind.pass(resource, { signal, holder });
      if (result.againAfterMs !== undefined && !signal.aborted) this.#retryIn(id, result.againAfterMs);
    } catch (error) {
      if (!signal.aborted) this.#options.log.error({ err: error, id, kind: this.#kind.name }, "reconcile pass failed");
    } finally {
      cancelRenew();
      await this.#kind.release(id, holder).catch(() => {});
    }
  }

  #retryIn(id: string, ms: number): void {
    this.#retries.get(id)?.();
    this.#retries.set(
      id,
      this.#clock.schedule(ms, () => {
        this.#retries.delete(id);
        this.wake(id);
      }),
    );
  }

  async #cancelIfStale(id: string, flight: InFlight): Promise<void> {
    const generation = await this.#kind.generation(id).catch(() => null);
    if (generation !== null && generation > flight.generation) flight.controller.abort(new Superseded("newer generation"));
  }
}
