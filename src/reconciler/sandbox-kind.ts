// What the reconcile loop does for a sandbox (one pass = one action toward the desired
// state, each idempotent because drivers adopt what exists). Writes of observed state and
// their events commit together, fenced by the generation acted on and this replica's lease.
//   running  → provision (driver.ensure, which adopts) or, when running, check for drift:
//              compute gone → `sandbox.lost` and provision again (files stay); link down →
//              linkGraceMs to reconnect, then restart
//   stopped  → driver.stop, or, when stopped, stop again compute that came back
//   deleted  → driver.remove
// Failures: typed by the error registry. Retryable ones (and every failed stop or remove:
// intent to stop must win eventually) back off, jittered and capped, with the next attempt
// shown on the sandbox; others wait in `failed` for the user's next verb (a new generation).
// A failed sandbox holds no compute. Compute the driver lists that the store does not know
// (orphans) is reported and, after orphanGraceMs, stopped — never deleted: a store restored
// from a backup must not wipe every sandbox made since.

import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Logger } from "pino";
import { type Capacity, capacityProblem } from "../domain/capacity.ts";
import { describeError, type ErrorCode } from "../domain/error-registry.ts";
import { OutpostError } from "../domain/errors.ts";
import { freshStages, READY_STAGE, type Stage, type StageState, withStage } from "../domain/sandbox-lifecycle.ts";
import type { Driver, SandboxSpec } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/sandboxes.ts";
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from "./backoff.ts";
import type { Clock, PassContext, PassResult, ResourceKind } from "./loop.ts";

/** How often a sandbox waiting for its supervisor to dial back is checked for having ended. */
const REDIAL_CHECK_MS = 500;
type Row = store.SandboxRow;

/** One stage report from the driver, stamped when it arrived. */
interface StageReport {
  name: string;
  state: StageState;
  at: string;
  message?: string;
}

export interface SandboxKindOptions {
  pool: pg.Pool;
  driver: Driver;
  log: Logger;
  clock: Clock;
  /** Grace for processes when stopping (ms). */
  stopGraceMs?: number;
  /** Limits applied to every sandbox (where the substrate allows). */
  limits?: SandboxSpec["limits"];
  /** How long a running sandbox's supervisor may stay disconnected before a restart (ms). */
  linkGraceMs?: number;
  /** Until this long after the control plane started, a disconnected supervisor gets at least
   * that long to come back (ms): after a restart every supervisor redials at once, on a
   * machine that may be busy, and a restart would end everything running in the sandbox. */
  adoptGraceMs?: number;
  backoff?: BackoffPolicy;
  /** How long compute the store does not know may run before it is stopped (ms). */
  orphanGraceMs?: number;
  /** The installation-wide cap; none when absent. */
  capacity?: Capacity;
  /** The control plane's own stages: before the driver's (the database) or once the supervisor answers (the repository). */
  preparers?: SandboxPreparer[];
}

/** A stage of the control plane's own, before the driver's or after them (before `ready`). */
export interface SandboxPreparer {
  stage: string;
  when: "before" | "after";
  /** Resolves with a one-line summary for the stage, and (before the driver's stages) what it
   *  adds to the spec the driver gets (the environment's image); throws to fail the start. */
  run(sandbox: { id: string; projectId: string }, progress: (message: string) => void, signal: AbortSignal): Promise<string | PreparedStage>;
  /** After a sandbox's compute and storage are gone: what the control plane kept for it goes too. */
  removed?(sandbox: { id: string; keepWorkspace: boolean }): Promise<void>;
}

export interface PreparedStage {
  summary: string;
  spec?: Pick<SandboxSpec, "image">;
}

export class SandboxKind implements ResourceKind<Row> {
  readonly name = "sandbox";
  /** Orphaned compute, by id: when this replica first saw it. */
  readonly #orphans = new Map<string, number>();
  readonly #startedAt: number;

  constructor(private readonly options: SandboxKindOptions) {
    this.#startedAt = options.clock.now();
  }

  /** The control plane's stages before the driver's, the driver's, then the control plane's after them. */
  get stageNames(): string[] {
    const own = (when: SandboxPreparer["when"]) => (this.options.preparers ?? []).filter((p) => p.when === when).map((p) => p.stage);
    return [...own("before"), ...this.options.driver.stages, ...own("after")];
  }

  /** Runs the control plane's own stages of one kind, in order, reporting each. */
  async #prepare(
    when: SandboxPreparer["when"],
    row: Row,
    report: (name: string, state: StageState, message?: string) => void,
    signal: AbortSignal,
  ): Promise<Pick<SandboxSpec, "image">> {
    let spec: Pick<SandboxSpec, "image"> = {};
    for (const preparer of this.options.preparers ?? []) {
      if (preparer.when !== when) continue;
      report(preparer.stage, "running");
      const result = await preparer.run(row, (message) => report(preparer.stage, "running", message), signal);
      const prepared = typeof result === "string" ? { summary: result } : result;
      spec = { ...spec, ...prepared.spec };
      report(preparer.stage, "done", prepared.summary);
    }
    return spec;
  }

  liveIds(): Promise<string[]> {
    return store.liveSandboxIds(this.options.pool);
  }

  lease(id: string, holder: string, ttlMs: number): Promise<Row | null> {
    return store.takeLease(this.options.pool, id, holder, ttlMs);
  }

  release(id: string, holder: string): Promise<void> {
    return store.releaseLease(this.options.pool, id, holder);
  }

  generation(id: string): Promise<number | null> {
    return store.currentGeneration(this.options.pool, id);
  }

  async pass(row: Row, context: PassContext): Promise<PassResult> {
    const wait = this.#untilDue(row);
    if (wait !== null) return wait === Number.POSITIVE_INFINITY ? {} : { againAfterMs: wait };
    switch (row.desired) {
      case "running":
        if (row.restartRequested) return this.#restart(row, context);
        if (row.phase === "running") return this.#verifyRunning(row, context);
        return this.#provision(row, context);
      case "stopped":
        if (row.phase === "stopped") return this.#verifyStopped(row, context);
        return this.#stop(row, context);
      case "deleted":
        return this.#remove(row, context);
    }
  }

  /** Compute the driver has that the store does not know as live: reported, then stopped. */
  async sweep(signal: AbortSignal): Promise<void> {
    const listed = await this.options.driver.list();
    const known = await store.knownLive(this.options.pool, listed);
    const now = this.options.clock.now();
    const grace = this.options.orphanGraceMs ?? 10 * 60_000;
    for (const id of [...this.#orphans.keys()]) if (!listed.includes(id) || known.has(id)) this.#orphans.delete(id);
    for (const id of listed) {
      if (known.has(id)) continue;
      const firstSeen = this.#orphans.get(id);
      if (firstSeen === undefined) {
        this.#orphans.set(id, now);
        this.options.log.warn({ sandboxId: id, stopInMs: grace }, "the driver has a sandbox the store does not know; it will be stopped (its files are kept)");
        continue;
      }
      if (now - firstSeen < grace) continue;
      const seen = await this.options.driver.inspect(id);
      if (seen.state !== "running") continue;
      this.options.log.warn({ sandboxId: id }, "stopping a sandbox the store does not know (its files are kept)");
      await this.options.driver.stop(id, { signal, graceMs: this.options.stopGraceMs });
    }
  }

  /** How many orphans this replica has seen (for /metrics). */
  get orphanCount(): number {
    return this.#orphans.size;
  }

  /**
   * Null when the sandbox is due for a pass: a newer intent than the last action, no failure
   * pending, or a retryable failure whose next attempt has come. Otherwise how long until it
   * is (infinite for a failure only the user can unblock, with a new verb).
   */
  #untilDue(row: Row): number | null {
    if (row.actedGeneration < row.generation) return null;
    if (row.nextAttemptAt) {
      const wait = row.nextAttemptAt.getTime() - this.options.clock.now();
      return wait <= 0 ? null : wait;
    }
    return row.phase === "failed" ? Number.POSITIVE_INFINITY : null;
  }

  async #provision(row: Row, { signal, holder }: PassContext): Promise<PassResult> {
    let stages: Stage[] = freshStages(this.stageNames);
    const begun = await this.#beginProvision(row, holder, stages);
    if (begun === "gone") return {};
    if (begun !== "begun")
      return this.#fail(
        row,
        holder,
        new OutpostError("SANDBOX_CAPACITY_REACHED", `Sandbox ${row.name} cannot start: ${begun}.`),
        "SANDBOX_CAPACITY_REACHED",
        {},
      );
    // Stage reports arrive as callbacks while the driver works. Each is stamped when it
    // arrives; whatever queued up while a write was under way goes out in one transaction
    // (the stages once, an event per report, in order), so the writes never fall behind.
    const queued: StageReport[] = [];
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      while (queued.length) {
        const batch = queued.splice(0);
        for (const r of batch) stages = withStage(stages, r.name, r.state, r.at, r.message);
        await this.#writeStages(row, holder, stages, batch);
      }
    };
    const report = (name: string, state: StageState, message?: string) => {
      queued.push({ name, state, at: new Date().toISOString(), ...(message ? { message } : {}) });
      if (queued.length === 1) writing = writing.then(flush);
    };
    try {
      const prepared = await this.#prepare("before", row, report, signal);
      const handle = await this.options.driver.ensure({ ...this.#spec(row), ...prepared }, { signal, onStage: report });
      await this.#prepare("after", row, report, signal);
      await writing;
      // Ready and running in one write: the last stage and the phase users wait for.
      const ready: StageReport = {
        name: READY_STAGE,
        state: "done",
        at: new Date().toISOString(),
        ...(handle.unenforcedLimits.length ? { message: `not enforced on this host: ${handle.unenforcedLimits.join(", ")}` } : {}),
      };
      stages = withStage(stages, ready.name, ready.state, ready.at, ready.message);
      await this.#writeStages(row, holder, stages, [ready], { phase: "running", error: null, driverState: handle.driverState, acted: true, retry: null });
      return {};
    } catch (error) {
      await writing.catch(() => {});
      if (signal.aborted) return {};
      const running = stages.find((s) => s.state === "running")?.name ?? READY_STAGE;
      stages = withStage(stages, running, "failed", new Date().toISOString(), describeError(error).message);
      // A failed sandbox holds no compute: whatever the failed start left is stopped.
      await this.options.driver.stop(row.id, { signal, graceMs: 0 }).catch((stopError) => {
        this.options.log.warn({ sandboxId: row.id, err: stopError }, "could not stop a sandbox that failed to start");
      });
      return this.#fail(row, holder, error, "SANDBOX_START_FAILED", { stages });
    }
  }

  /**
   * Moves the sandbox to provisioning, unless the installation is full: the count of
   * sandboxes holding compute is taken under a lock in the same transaction as the write,
   * so concurrent provisions (on any replica) cannot pass the cap together.
   */
  async #beginProvision(row: Row, holder: string, stages: Stage[]): Promise<"begun" | "gone" | string> {
    const capacity = this.options.capacity;
    return withTransaction(this.options.pool, async (tx) => {
      if (capacity) {
        const count = await store.lockAndCountRunning(tx, row.id);
        const memory = this.options.limits?.memoryBytes ?? 0;
        const problem = capacityProblem(capacity, { count, memoryBytes: count * memory }, memory);
        if (problem) return problem;
      }
      const updated = await store.writeObserved(tx, row.id, row.generation, holder, { phase: "provisioning", stages, error: null });
      if (!updated) return "gone";
      await appendEvent(tx, {
        type: "sandbox.phase",
        ownerId: row.ownerId,
        projectId: row.projectId,
        data: { sandboxId: row.id, name: row.name, phase: updated.phase },
      });
      return "begun";
    });
  }

  async #verifyRunning(row: Row, context: PassContext): Promise<PassResult> {
    const { signal } = context;
    const seen = await this.options.driver.inspect(row.id);
    if (seen.state === "running") {
      if (seen.linked) return {};
      const sinceStart = this.options.clock.now() - this.#startedAt;
      const grace = Math.max(this.options.linkGraceMs ?? 15_000, (this.options.adoptGraceMs ?? 60_000) - sinceStart);
      const waited = await this.#awaitRedial(row.id, grace, signal);
      if (waited === "back" || signal.aborted) return {};
      if (waited === "ended") {
        // The link dropped because the compute was ending (a supervisor killed from inside):
        // its exit says why, better than a timeout would.
        const after = await this.options.driver.inspect(row.id);
        await this.#lost(row, after.lastExit?.reason ?? `its compute is ${after.state}`, after.lastExit?.oomKilled ?? false);
        return this.#provision(row, context);
      }
      await this.#lost(row, `its supervisor did not reconnect within ${grace} ms; restarting the sandbox`, false);
      await this.options.driver.stop(row.id, { signal, graceMs: this.options.stopGraceMs });
    } else {
      await this.#lost(row, seen.lastExit?.reason ?? `its compute is ${seen.state}`, seen.lastExit?.oomKilled ?? false);
    }
    return this.#provision(row, context);
  }

  /** Waits for a running sandbox's supervisor to dial back, while checking that the compute
   *  is still there: a link that dropped because the sandbox was dying never comes back, and
   *  waiting out the whole grace would leave it unusable for a minute. */
  async #awaitRedial(sandboxId: string, graceMs: number, signal: AbortSignal): Promise<"back" | "ended" | "timeout"> {
    const waiting = new AbortController();
    const stopWaiting = () => waiting.abort();
    signal.addEventListener("abort", stopWaiting, { once: true });
    let ended = false;
    const watch = (async () => {
      while (!waiting.signal.aborted) {
        const slept = await sleep(REDIAL_CHECK_MS, true, { signal: waiting.signal, ref: false }).catch(() => false);
        if (!slept) return;
        const seen = await this.options.driver.inspect(sandboxId).catch(() => null);
        if (seen && seen.state !== "running") {
          ended = true;
          waiting.abort();
        }
      }
    })();
    try {
      const back = await this.options.driver.connect(sandboxId, { signal: waiting.signal, timeoutMs: graceMs }).then(
        () => true,
        () => false,
      );
      return back ? "back" : ended ? "ended" : "timeout";
    } finally {
      waiting.abort();
      signal.removeEventListener("abort", stopWaiting);
      await watch;
    }
  }

  /** A stopped sandbox whose compute came back (someone started it by hand) is stopped again. */
  async #verifyStopped(row: Row, context: PassContext): Promise<PassResult> {
    const seen = await this.options.driver.inspect(row.id);
    if (seen.state !== "running") return {};
    this.options.log.warn({ sandboxId: row.id }, "a stopped sandbox is running again; stopping it");
    return this.#stop(row, context);
  }

  /** Records why a running sandbox stopped being one (before it is provisioned again). */
  async #lost(row: Row, reason: string, oomKilled: boolean): Promise<void> {
    this.options.log.warn({ sandboxId: row.id, reason }, "running sandbox lost; starting it again");
    await withTransaction(this.options.pool, (tx) =>
      appendEvent(tx, { type: "sandbox.lost", ownerId: row.ownerId, projectId: row.projectId, data: { sandboxId: row.id, name: row.name, reason, oomKilled } }),
    );
  }

  async #restart(row: Row, context: PassContext): Promise<PassResult> {
    if (!(await this.#write(row, context.holder, { phase: "stopping", restartRequested: false }, "sandbox.phase"))) return {};
    try {
      await this.options.driver.stop(row.id, { signal: context.signal, graceMs: this.options.stopGraceMs });
    } catch (error) {
      if (context.signal.aborted) return {};
      return this.#fail(row, context.holder, error, "SANDBOX_STOP_FAILED", {}, true);
    }
    return this.#provision(row, context);
  }

  async #stop(row: Row, { signal, holder }: PassContext): Promise<PassResult> {
    if (row.phase !== "stopping" && !(await this.#write(row, holder, { phase: "stopping" }, "sandbox.phase"))) return {};
    try {
      await this.options.driver.stop(row.id, { signal, graceMs: this.options.stopGraceMs });
      await this.#write(row, holder, { phase: "stopped", stages: freshStages(this.stageNames), error: null, acted: true, retry: null }, "sandbox.phase");
      return {};
    } catch (error) {
      if (signal.aborted) return {};
      return this.#fail(row, holder, error, "SANDBOX_STOP_FAILED", {}, true);
    }
  }

  async #remove(row: Row, { signal, holder }: PassContext): Promise<PassResult> {
    if (row.phase !== "deleting" && !(await this.#write(row, holder, { phase: "deleting" }, "sandbox.phase"))) return {};
    try {
      await this.options.driver.remove(row.id, { keepWorkspace: row.keepWorkspace, signal, graceMs: this.options.stopGraceMs });
      for (const preparer of this.options.preparers ?? []) {
        await preparer
          .removed?.(row)
          .catch((error) => this.options.log.warn({ sandboxId: row.id, err: error }, "could not tidy what was kept for a deleted sandbox"));
      }
      await this.#write(row, holder, { phase: "deleted", acted: true, retry: null }, "sandbox.phase");
      return {};
    } catch (error) {
      if (signal.aborted) return {};
      // A delete keeps its phase (deleting) and is retried: only the error is shown.
      return this.#fail(row, holder, error, "SANDBOX_STOP_FAILED", {}, true, "deleting");
    }
  }

  /**
   * Records a failure with its registered code, hint and whether (and when) it is retried.
   * `alwaysRetry` for stop and remove: the user asked for less compute, and that must
   * happen eventually.
   */
  async #fail(
    row: Row,
    holder: string,
    error: unknown,
    fallback: ErrorCode,
    fields: store.ObservedFields,
    alwaysRetry = false,
    phase: Row["phase"] = "failed",
  ): Promise<PassResult> {
    const described = describeError(error, fallback);
    const retryable = described.retryable || alwaysRetry;
    const attempts = row.actedGeneration === row.generation ? row.attempts + 1 : 1;
    const delay = retryable ? backoffDelay(attempts, this.options.backoff ?? DEFAULT_BACKOFF) : undefined;
    const nextAttemptAt = delay === undefined ? undefined : new Date(this.options.clock.now() + delay);
    this.options.log.warn({ sandboxId: row.id, code: described.code, msg: described.message.slice(0, 2000), nextAttemptAt }, "sandbox action failed");
    await this.#write(
      row,
      holder,
      {
        ...fields,
        phase,
        error: { ...described, retryable, ...(nextAttemptAt ? { nextAttemptAt: nextAttemptAt.toISOString() } : {}) },
        acted: true,
        retry: nextAttemptAt ? { attempts, nextAttemptAt } : null,
      },
      "sandbox.phase",
    );
    return delay === undefined ? {} : { againAfterMs: delay };
  }

  #spec(row: Row): SandboxSpec {
    return {
      sandboxId: row.id,
      name: row.name,
      ...(row.workspaceFrom ? { workspaceFrom: row.workspaceFrom } : {}),
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    };
  }

  /**
   * Writes the stages (and, with `then`, more observed state) with a `sandbox.stage` event
   * per report, and a `sandbox.phase` event when the phase changes, in one transaction.
   */
  async #writeStages(row: Row, holder: string, stages: Stage[], reports: StageReport[], then: store.ObservedFields = {}): Promise<void> {
    await withTransaction(this.options.pool, async (tx) => {
      const updated = await store.writeObserved(tx, row.id, row.generation, holder, { ...then, stages });
      if (!updated) return;
      const base = { ownerId: row.ownerId, projectId: row.projectId };
      for (const r of reports) {
        const data = { sandboxId: row.id, name: row.name, phase: updated.phase, stage: r.name, state: r.state, ...(r.message ? { message: r.message } : {}) };
        await appendEvent(tx, { ...base, type: "sandbox.stage", data });
      }
      if (then.phase) await appendEvent(tx, { ...base, type: "sandbox.phase", data: { sandboxId: row.id, name: row.name, phase: updated.phase } });
    });
  }

  /** Writes observed state and its event in one transaction, only while intent and lease hold. */
  async #write(row: Row, holder: string, fields: store.ObservedFields, type: string, extra: Record<string, unknown> = {}): Promise<Row | null> {
    return withTransaction(this.options.pool, async (tx) => {
      const updated = await store.writeObserved(tx, row.id, row.generation, holder, fields);
      if (!updated) return null;
      await appendEvent(tx, {
        type,
        ownerId: row.ownerId,
        projectId: row.projectId,
        data: { sandboxId: row.id, name: row.name, phase: updated.phase, ...(updated.error && fields.error ? { error: updated.error } : {}), ...extra },
      });
      return updated;
    });
  }
}
