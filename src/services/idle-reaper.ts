// The idle reaper: every `checkMs` it looks at each running sandbox and stops the ones that sat
// idle longer than their project's `idleTimeoutSeconds` (0: never). Stopping is a change of
// intent like a user's stop (desired stopped, files kept), marked as an idle stop so that the
// next request wakes the sandbox (sandbox-wake.ts) and the API says why it stopped; the event
// `sandbox.idle_stopped` records it.
//
// Busy is decided from three sources, cheapest first: memory (sandbox-activity.ts: commands,
// attached terminals and preview requests through this control plane), the store (agent runs
// queued, running or waiting; when the last one ended; the last activity written down), and,
// only for a sandbox that looks idle by those, its supervisor (a background process still
// running, a terminal with a client attached). The rule itself is domain/idle.ts.
//
// Each pass also writes down, coarsely (at most every `writeEveryMs` per sandbox), when each
// sandbox was last active: after a control-plane restart memory is empty, and the store's
// record keeps a sandbox used just before from being stopped at once.
import type pg from "pg";
import { type ActivityFacts, idleStopDue, isIdle } from "../domain/idle.ts";
import type { Driver } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import { type IdleCandidate, idleCandidates, recordActivity, stopForIdle } from "../store/idle.ts";
import type { SandboxActivity } from "./sandbox-activity.ts";

export const DEFAULT_IDLE_CHECK_MS = 15_000;
const DEFAULT_WRITE_EVERY_MS = 30_000;
/** A supervisor that does not answer within this long is not asked further this pass (the sandbox stays). */
const ASK_TIMEOUT_MS = 5_000;

export interface IdleReaperOptions {
  pool: pg.Pool;
  activity: SandboxActivity;
  driver: Pick<Driver, "connect">;
  /** Tells the reconciler to act on a sandbox now (after it was told to stop). */
  reconcile(sandboxId: string): void;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** How often sandboxes are looked at (ms; default 15 s). */
  checkMs?: number;
  /** A sandbox's last activity is written down at most this often (ms; default 30 s). */
  writeEveryMs?: number;
  now?: () => number;
}

export class IdleReaper {
  readonly #now: () => number;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<string[]> | null = null;
  #queued: Promise<string[]> | null = null;
  #closed = false;

  constructor(private readonly options: IdleReaperOptions) {
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#closed || this.#timer) return;
    const next = () => {
      this.#timer = setTimeout(() => {
        void this.pass()
          .catch((error: unknown) => this.options.log.warn({ err: (error as Error).message }, "idle check failed"))
          .finally(() => {
            if (!this.#closed) next();
          });
      }, this.options.checkMs ?? DEFAULT_IDLE_CHECK_MS);
      this.#timer.unref();
    };
    next();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await Promise.allSettled([this.#pass, this.#queued]);
  }

  /**
   * One look at every running sandbox; resolves with the ids it stopped. A pass asked for
   * while one runs starts after it: the answer always covers a look begun after the call.
   */
  pass(): Promise<string[]> {
    if (this.#queued) return this.#queued;
    const run = async () => {
      try {
        return await this.#look();
      } finally {
        this.#pass = null;
      }
    };
    if (!this.#pass) {
      this.#pass = run();
      return this.#pass;
    }
    this.#queued = this.#pass
      .catch(() => [])
      .then(() => {
        this.#queued = null;
        this.#pass = run();
        return this.#pass;
      });
    return this.#queued;
  }

  async #look(): Promise<string[]> {
    await this.#writeActivity();
    const candidates = await idleCandidates(this.options.pool);
    this.options.activity.keepOnly(new Set(candidates.map((c) => c.id)));
    const stopped: string[] = [];
    for (const candidate of candidates) {
      if (this.#closed) break;
      try {
        if (await this.#consider(candidate)) stopped.push(candidate.id);
      } catch (error) {
        this.options.log.warn({ sandboxId: candidate.id, err: (error as Error).message }, "could not decide whether a sandbox is idle");
      }
    }
    return stopped;
  }

  async #consider(candidate: IdleCandidate): Promise<boolean> {
    const { activity } = this.options;
    const now = this.#now();
    const memory = activity.facts(candidate.id);
    const facts: ActivityFacts = {
      busy: memory.busy || candidate.runActive,
      lastActivityAt: latest(memory.lastActivityAt, candidate.lastActiveAt?.getTime(), candidate.lastRunEndedAt?.getTime()),
      runningSince: candidate.readyAt ? Date.parse(candidate.readyAt) : null,
      watchingSince: activity.startedAt,
    };
    if (!isIdle(facts, candidate.timeoutSeconds, now)) return false;
    const inside = await this.#inside(candidate.id);
    if (!inside) return false;
    if (inside.busy) {
      // In use by itself: not worth asking again before a whole timeout has passed.
      activity.note(candidate.id, now);
      return false;
    }
    facts.lastActivityAt = latest(facts.lastActivityAt, inside.lastEndedAt);
    if (!isIdle(facts, candidate.timeoutSeconds, now)) return false;
    const idleSince = (idleStopDue(facts, candidate.timeoutSeconds) ?? now) - candidate.timeoutSeconds * 1000;
    const stopped = await activity.stopUnlessHeld(candidate.id, () => this.#stop(candidate, Math.round((now - idleSince) / 1000)));
    if (stopped) {
      this.options.log.info({ sandboxId: candidate.id, timeoutSeconds: candidate.timeoutSeconds }, "stopping an idle sandbox (its files are kept)");
      this.options.reconcile(candidate.id);
    }
    return stopped;
  }

  /** What the sandbox's supervisor says runs in it; null when it cannot be asked now. */
  async #inside(sandboxId: string): Promise<{ busy: boolean; lastEndedAt: number | null } | null> {
    try {
      const signal = AbortSignal.timeout(ASK_TIMEOUT_MS);
      const { client } = await this.options.driver.connect(sandboxId, { signal, timeoutMs: ASK_TIMEOUT_MS });
      const [processes, terminals] = await Promise.all([client.listProcesses(signal), client.listTerminals(signal)]);
      const running = processes.items.some((p) => p.status === "running");
      const attached = terminals.items.some((t) => t.clients > 0);
      const ended = processes.items.map((p) => (p.endedAt ? Date.parse(p.endedAt) : null));
      return { busy: running || attached, lastEndedAt: latest(...ended) };
    } catch {
      return null;
    }
  }

  async #stop(candidate: IdleCandidate, idleSeconds: number): Promise<boolean> {
    return withTransaction(this.options.pool, async (tx) => {
      const row = await stopForIdle(tx, candidate.id, candidate.generation);
      if (!row) return false;
      await appendEvent(tx, {
        type: "sandbox.idle_stopped",
        ownerId: candidate.ownerId,
        projectId: candidate.projectId,
        data: { sandboxId: candidate.id, name: candidate.name, idleSeconds, timeoutSeconds: candidate.timeoutSeconds },
      });
      return true;
    });
  }

  async #writeActivity(): Promise<void> {
    const due = this.options.activity.unwritten(this.options.writeEveryMs ?? DEFAULT_WRITE_EVERY_MS);
    if (due.length === 0) return;
    await recordActivity(this.options.pool, due);
    this.options.activity.written(due);
  }
}

function latest(...times: (number | null | undefined)[]): number | null {
  const known = times.filter((t): t is number => typeof t === "number" && Number.isFinite(t));
  return known.length ? Math.max(...known) : null;
}
