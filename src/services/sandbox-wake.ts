// Waking a sandbox stopped for idleness: a request to it (exec, terminal, preview, files, an
// agent run) sets it running again and waits, bounded and with the request's signal, until it
// runs; the request then goes on as if it had never stopped. Only a sandbox stopped for
// idleness wakes: one a user stopped answers as before (SANDBOX_WRONG_PHASE), and so does one
// on its way somewhere a user sent it. Concurrent requests share one wake. The wake is a change
// of intent like a user's start (desired running, a new generation), so a stop still in
// flight is cancelled and the reconciler starts it with its files.
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { OutpostError } from "../domain/errors.ts";
import type { Phase } from "../domain/sandbox-lifecycle.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import { clearWaking, lockSandbox, wakeFromIdle } from "../store/idle.ts";
import { getSandbox, type SandboxRow } from "../store/sandboxes.ts";
import type { Release, SandboxActivity } from "./sandbox-activity.ts";

/** How long a request waits for a woken sandbox by default: a start with its stages. */
export const DEFAULT_WAKE_TIMEOUT_MS = 120_000;
/** How often a wake looks again when the reconciler had nothing in flight (capacity wait, another replica). */
const RECHECK_MS = 250;

/** What request paths need: a hold on the sandbox while they use it, and the wake. */
export interface SandboxGate {
  hold(sandboxId: string): Promise<Release>;
  /**
   * True when the sandbox runs, now or once woken from an idle stop; false when it does not
   * run and was not stopped for idleness (the caller refuses as it always did). Throws when a
   * wake fails or outlasts its bound, or with `signal`'s reason.
   */
  awake(sandbox: { id: string; phase: Phase }, signal?: AbortSignal): Promise<boolean>;
}

export interface SandboxWakerDeps {
  pool: pg.Pool;
  activity: SandboxActivity;
  /** Tells the reconciler to look at the sandbox now. */
  reconcile(sandboxId: string): void;
  /** Resolves once the reconciler has no pass in flight for the sandbox. */
  settled(sandboxId: string): Promise<void>;
  timeoutMs?: number;
}

export class SandboxWaker implements SandboxGate {
  /** Wakes under way, per sandbox: resolve with the running row, or null when it was not ours to wake. */
  readonly #wakes = new Map<string, Promise<SandboxRow | null>>();

  constructor(private readonly deps: SandboxWakerDeps) {}

  hold(sandboxId: string): Promise<Release> {
    return this.deps.activity.hold(sandboxId);
  }

  async awake(sandbox: { id: string; phase: Phase }, signal?: AbortSignal): Promise<boolean> {
    if (sandbox.phase === "running" && !this.deps.activity.idleStopped(sandbox.id)) return true;
    let wake = this.#wakes.get(sandbox.id);
    if (!wake) {
      wake = this.#wake(sandbox.id).finally(() => this.#wakes.delete(sandbox.id));
      // Every caller may have gone away by the time it settles.
      wake.catch(() => {});
      this.#wakes.set(sandbox.id, wake);
    }
    return (await whileNotAborted(wake, signal)) !== null;
  }

  async #wake(sandboxId: string): Promise<SandboxRow | null> {
    const decided = await withTransaction(this.deps.pool, async (tx) => {
      const row = await lockSandbox(tx, sandboxId);
      if (!row) return null;
      if (row.desired === "running" && row.phase === "running") return row;
      if (row.desired === "running" && row.idleState === "waking") return "waking";
      if (row.desired !== "stopped" || row.idleState !== "stopped") return null;
      await wakeFromIdle(tx, sandboxId);
      await appendEvent(tx, { type: "sandbox.waking", ownerId: row.ownerId, projectId: row.projectId, data: { sandboxId, name: row.name } });
      return "woken";
    });
    if (decided === null) return null;
    this.deps.activity.woken(sandboxId);
    // Woken by an earlier request, and running since.
    if (typeof decided === "object") return decided;
    if (decided === "woken") this.deps.reconcile(sandboxId);
    return this.#untilRunning(sandboxId, Date.now() + (this.deps.timeoutMs ?? DEFAULT_WAKE_TIMEOUT_MS));
  }

  async #untilRunning(sandboxId: string, deadline: number): Promise<SandboxRow | null> {
    for (;;) {
      // The pass that starts it, when there is one (bounded by the deadline).
      const timer = new AbortController();
      await Promise.race([
        this.deps.settled(sandboxId),
        sleep(Math.max(0, deadline - Date.now()), undefined, { signal: timer.signal, ref: false }).catch(() => {}),
      ]);
      timer.abort();
      const row = await getSandbox(this.deps.pool, sandboxId);
      if (!row) return null;
      if (row.desired === "running" && row.phase === "running") {
        await clearWaking(this.deps.pool, sandboxId);
        return row;
      }
      if (row.desired !== "running") {
        throw new OutpostError("SANDBOX_WRONG_PHASE", `Sandbox ${row.name} was being woken from an idle stop and is now to be ${row.desired}.`, {
          details: { phase: row.phase },
        });
      }
      // A failure that is retried by itself (no room yet, a dependency down) is waited out, within the bound.
      if (row.phase === "failed" && !row.error?.nextAttemptAt) {
        throw new OutpostError(
          "SANDBOX_START_FAILED",
          `Sandbox ${row.name} stopped while idle and could not start again: ${row.error?.message ?? "it failed"}.`,
          {
            details: { phase: row.phase, ...(row.error ? { error: row.error } : {}) },
          },
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new OutpostError("SANDBOX_WAKE_TIMEOUT", `Sandbox ${row.name} is still ${row.phase} after its idle stop.`, { details: { phase: row.phase } });
      }
      // Nothing in flight moved it there (it waits for room, or another replica acts): look again in a while.
      await sleep(Math.min(RECHECK_MS, left), undefined, { ref: false });
    }
  }
}

/** The promise's outcome, unless `signal` aborts first (then its reason is thrown). */
async function whileNotAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
