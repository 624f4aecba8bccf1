// Which sandboxes are in use right now, kept in memory for the idle reaper (idle-reaper.ts).
// The services that talk to a sandbox for a user feed it: an exec holds its sandbox busy until
// its output ends, an attached terminal until it detaches, a preview request until its tunnel
// closes, an agent run's launch until it is recorded (the store says the rest: a run is active
// until it ends). Shorter calls (a file read, a process list) only touch it. What a sandbox runs
// by itself (background processes, terminals attached through an earlier control plane) the
// reaper asks its supervisor before it stops one.
//
// Holding and stopping exclude each other per sandbox, in memory: a hold taken while an idle
// stop is being decided waits for that decision, so its caller reads the sandbox's state after
// it (and wakes it), and a stop is never decided while a hold is out. One control plane per
// data dir makes memory enough here; with replicas (Kubernetes) the store's generation fence
// still keeps a late stop from undoing a wake, but a request may meet a sandbox stopping.

/** Ends a hold; calling it again does nothing. */
export type Release = () => void;

interface Entry {
  holds: number;
  /** When the latest activity began or ended (ms). */
  lastAt: number;
  /** The last time written down for it (ms; 0: never). */
  written: number;
}

export class SandboxActivity {
  readonly #entries = new Map<string, Entry>();
  /** Idle stops being decided right now, per sandbox. */
  readonly #deciding = new Map<string, Promise<boolean>>();
  /** Sandboxes this control plane stopped for idleness and nothing has woken since. */
  readonly #idleStopped = new Set<string>();
  /** When this control plane began watching: the floor for sandboxes with no recorded activity. */
  readonly startedAt: number;

  constructor(private readonly now: () => number = Date.now) {
    this.startedAt = now();
  }

  /**
   * Counts the sandbox busy from now until the release. Resolves once an idle stop being
   * decided for it is settled, so the caller reads the sandbox's state after that decision.
   */
  async hold(sandboxId: string): Promise<Release> {
    const entry = this.#entry(sandboxId);
    entry.holds += 1;
    entry.lastAt = this.now();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.holds -= 1;
      entry.lastAt = this.now();
    };
    const deciding = this.#deciding.get(sandboxId);
    if (deciding) await deciding.catch(() => false);
    return release;
  }

  /** A short use (a file read, a process list): the sandbox was active just now. */
  async touch(sandboxId: string): Promise<void> {
    (await this.hold(sandboxId))();
  }

  /** Something seen in use at `at` (e.g. a process the reaper found running). */
  note(sandboxId: string, at: number): void {
    const entry = this.#entry(sandboxId);
    entry.lastAt = Math.max(entry.lastAt, at);
  }

  /** What memory knows: busy now, and when the latest activity was (null: nothing since start). */
  facts(sandboxId: string): { busy: boolean; lastActivityAt: number | null } {
    const entry = this.#entries.get(sandboxId);
    return entry ? { busy: entry.holds > 0, lastActivityAt: entry.lastAt } : { busy: false, lastActivityAt: null };
  }

  /**
   * Runs `stop` (which answers whether it stopped the sandbox) unless something holds the
   * sandbox; holds taken meanwhile wait for it. False when held or already being decided.
   */
  async stopUnlessHeld(sandboxId: string, stop: () => Promise<boolean>): Promise<boolean> {
    // Checked and marked without an await in between: a hold is either counted here, or waits.
    if (this.#deciding.has(sandboxId) || (this.#entries.get(sandboxId)?.holds ?? 0) > 0) return false;
    const decision = stop().then((stopped) => {
      if (stopped) this.#idleStopped.add(sandboxId);
      return stopped;
    });
    this.#deciding.set(sandboxId, decision);
    try {
      return await decision;
    } finally {
      this.#deciding.delete(sandboxId);
    }
  }

  /** True when this control plane stopped the sandbox for idleness and nothing woke it since:
   *  a phase read before the stop may still say running. */
  idleStopped(sandboxId: string): boolean {
    return this.#idleStopped.has(sandboxId);
  }

  woken(sandboxId: string): void {
    this.#idleStopped.delete(sandboxId);
  }

  /**
   * Sandboxes whose activity moved on by at least `everyMs` since it was last written down
   * (a busy one counts as active now), to write down; mark them with written() once stored.
   */
  unwritten(everyMs: number): { id: string; at: Date }[] {
    const now = this.now();
    const due: { id: string; at: Date }[] = [];
    for (const [id, entry] of this.#entries) {
      const at = entry.holds > 0 ? now : entry.lastAt;
      if (at - entry.written >= everyMs) due.push({ id, at: new Date(at) });
    }
    return due;
  }

  written(entries: { id: string; at: Date }[]): void {
    for (const { id, at } of entries) {
      const entry = this.#entries.get(id);
      if (entry) entry.written = Math.max(entry.written, at.getTime());
    }
  }

  /** `running`: the sandboxes that run and should. The others are forgotten unless held (memory
   *  stays bounded by what runs); those among them that were stopped for idleness run again. */
  keepOnly(running: Set<string>): void {
    for (const [id, entry] of this.#entries) if (entry.holds === 0 && !running.has(id)) this.#entries.delete(id);
    for (const id of this.#idleStopped) if (running.has(id)) this.#idleStopped.delete(id);
  }

  #entry(sandboxId: string): Entry {
    let entry = this.#entries.get(sandboxId);
    if (!entry) {
      entry = { holds: 0, lastAt: this.now(), written: 0 };
      this.#entries.set(sandboxId, entry);
    }
    return entry;
  }
}
