// Makes each sandbox's actual state match its desired state. Every action is idempotent
// (drivers adopt what already exists), every result is written fenced by the generation it
// acted on, and all state is in the store, so the control plane can be killed at any line
// and the next start simply runs the same actions again: half-done provisioning is
// finished, a sandbox whose supervisor died is started again, a pending delete completes.
//
// Work is single-flight per sandbox: a wake-up while an action runs marks it to run once
// more afterwards. A slow timer re-checks every live sandbox (drift: compute that died),
// and the driver's link events wake a sandbox at once. A dropped link is not a dead
// sandbox: a sandbox is provisioned again only when its compute is gone, or when its
// supervisor does not reconnect within linkGraceMs.
import type pg from "pg";
import type { Logger } from "pino";
import { freshStages, READY_STAGE, type Stage, type StageName, type StageState, withStage } from "../domain/sandbox-lifecycle.ts";
import type { Driver, SandboxSpec } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/sandboxes.ts";
import type { LinkEvent } from "../supervisor/link/registry.ts";

export interface ReconcilerOptions {
  pool: pg.Pool;
  driver: Driver;
  log: Logger;
  /** How long a running sandbox's supervisor may stay disconnected before the sandbox is
   *  started again (ms; default 15 000). */
  linkGraceMs?: number;
  /** How often every live sandbox is re-checked (ms). */
  resyncMs?: number;
  /** Grace for processes when stopping (ms). */
  stopGraceMs?: number;
  /** Limits applied to every sandbox (where the host's cgroups allow). */
  limits?: SandboxSpec["limits"];
}

type Row = store.SandboxRow;

const REFUSAL_EVENT_INTERVAL_MS = 60_000;

export class Reconciler {
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #unsubscribe: (() => void) | null = null;
  /** Per sandbox: when its last refused link was recorded, and how many since were not. */
  readonly #refusals = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: ReconcilerOptions) {}

  /** Adopts everything the store knows about and starts the periodic re-check. */
  async start(): Promise<void> {
    this.#unsubscribe = this.options.driver.onLinkEvent((event) => void this.#onLinkEvent(event));
    for (const id of await store.liveSandboxIds(this.options.pool)) this.wake(id);
    this.#timer = setInterval(() => void this.resync(), this.options.resyncMs ?? 10_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    if (this.#timer) clearInterval(this.#timer);
    this.#abort.abort();
    await Promise.allSettled([...this.#inFlight.values()]);
  }

  /** Re-checks every live sandbox that has no action in flight. */
  async resync(): Promise<void> {
    const ids = await store.liveSandboxIds(this.options.pool).catch(() => []);
    for (const id of ids) if (!this.#inFlight.has(id)) this.wake(id);
  }

  wake(id: string): void {
    if (this.#abort.signal.aborted) return;
    if (this.#inFlight.has(id)) {
      this.#again.add(id);
      return;
    }
    const run = this.#loop(id).finally(() => {
      this.#inFlight.delete(id);
      if (this.#again.delete(id)) this.wake(id);
    });
    this.#inFlight.set(id, run);
  }

  /** Resolves once the sandbox has no action in flight (for tests and shutdown). */
  async idle(id: string): Promise<void> {
    while (this.#inFlight.has(id)) await this.#inFlight.get(id);
  }

  async #loop(id: string): Promise<void> {
    try {
      const row = await store.getSandbox(this.options.pool, id);
      if (!row || row.phase === "deleted") return;
      await this.#act(row);
    } catch (error) {
      if (!this.#abort.signal.aborted) this.options.log.error({ err: error, sandboxId: id }, "reconcile failed");
    }
  }

  async #act(row: Row): Promise<void> {
    switch (row.desired) {
      case "running":
        if (row.restartRequested) return this.#restart(row);
        if (row.phase === "running") return this.#verifyRunning(row);
        // A failed sandbox stays failed until the user asks again (a new generation), so a
        // broken host does not turn into a hot retry loop.
        if (row.phase === "failed") return;
        return this.#provision(row);
      case "stopped":
        if (row.phase === "stopped") return;
        return this.#stopSandbox(row);
      case "deleted":
        return this.#remove(row);
    }
  }

  /**
   * A dropped link wakes the sandbox (checked with grace); a refused one is an event, at
   * most one per sandbox per REFUSAL_EVENT_INTERVAL_MS (with how many were left out), so a
   * sandbox dialling in a loop cannot flood the event log.
   */
  async #onLinkEvent(event: LinkEvent): Promise<void> {
    if (event.type === "down") return this.wake(event.sandboxId);
    if (event.type !== "refused") return;
    const now = Date.now();
    const last = this.#refusals.get(event.sandboxId);
    if (last && now - last.at < REFUSAL_EVENT_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#refusals.set(event.sandboxId, { at: now, suppressed: 0 });
    const row = await store.getSandbox(this.options.pool, event.sandboxId).catch(() => null);
    if (!row) return;
    this.options.log.warn({ sandboxId: row.id, code: event.refusal.code }, "refused a supervisor link");
    await withTransaction(this.options.pool, (tx) =>
      appendEvent(tx, {
        type: "sandbox.link.refused",
        ownerId: row.ownerId,
        projectId: row.projectId,
        data: { sandboxId: row.id, name: row.name, code: event.refusal.code, message: event.refusal.message, suppressedBefore: suppressed },
      }),
    ).catch((error) => this.options.log.error({ err: error }, "could not record a refused link"));
  }

  async #provision(row: Row): Promise<void> {
    let stages: Stage[] = freshStages(this.options.driver.stages);
    let current = await this.#write(row, { phase: "provisioning", stages, error: null }, "sandbox.phase");
    if (!current) return;
    const report = async (name: StageName, state: StageState, message?: string) => {
      stages = withStage(stages, name, state, new Date().toISOString(), message);
      current = (await this.#write(row, { stages }, "sandbox.stage", { stage: name, state, ...(message ? { message } : {}) })) ?? current;
    };
    // Stage reports arrive as callbacks; writing them in order keeps the events in order.
    let reports = Promise.resolve();
    try {
      const handle = await this.options.driver.ensure(this.#spec(row), {
        signal: this.#abort.signal,
        onStage: (name, state, message) => {
          reports = reports.then(() => report(name, state, message));
        },
      });
      await reports;
      await report(READY_STAGE, "done", handle.unenforcedLimits.length ? `not enforced on this host: ${handle.unenforcedLimits.join(", ")}` : undefined);
      await this.#write(row, { phase: "running", stages, error: null, driverState: handle.driverState }, "sandbox.phase");
    } catch (error) {
      await reports.catch(() => {});
      if (this.#abort.signal.aborted) return;
      const failure = describe(error);
      const running = stages.find((s) => s.state === "running")?.name ?? READY_STAGE;
      stages = withStage(stages, running, "failed", new Date().toISOString(), failure.message);
      this.options.log.warn({ sandboxId: row.id, code: failure.code, msg: failure.message.slice(0, 2000) }, "sandbox provisioning failed");
      // A failed sandbox holds no compute: whatever the failed start left is stopped.
      await this.options.driver.stop(row.id, { signal: this.#abort.signal, graceMs: 0 }).catch((stopError) => {
        this.options.log.warn({ sandboxId: row.id, err: stopError }, "could not stop a sandbox that failed to start");
      });
      await this.#write(row, { phase: "failed", stages, error: failure }, "sandbox.phase");
    }
  }

  /**
   * A running sandbox whose compute is gone is provisioned again (its files stay), with an
   * event saying why it ended. One whose compute runs but whose supervisor is not connected
   * gets linkGraceMs to reconnect (a control-plane restart, a supervisor restart) before
   * it is restarted.
   */
  async #verifyRunning(row: Row): Promise<void> {
    const seen = await this.options.driver.inspect(row.id);
    if (seen.state === "running") {
      if (seen.linked) return;
      const grace = this.options.linkGraceMs ?? 15_000;
      const back = await this.options.driver.connect(row.id, { signal: this.#abort.signal, timeoutMs: grace }).then(
        () => true,
        () => false,
      );
      if (back || this.#abort.signal.aborted) return;
      await this.#lost(row, `its supervisor did not reconnect within ${grace} ms; restarting the sandbox`, false);
      await this.options.driver.stop(row.id, { signal: this.#abort.signal, graceMs: this.options.stopGraceMs });
    } else {
      await this.#lost(row, seen.lastExit?.reason ?? `its compute is ${seen.state}`, seen.lastExit?.oomKilled ?? false);
    }
    await this.#provision(row);
  }

  /** Records why a running sandbox stopped being one (before it is provisioned again). */
  async #lost(row: Row, reason: string, oomKilled: boolean): Promise<void> {
    this.options.log.warn({ sandboxId: row.id, reason }, "running sandbox lost; starting it again");
    await withTransaction(this.options.pool, (tx) =>
      appendEvent(tx, { type: "sandbox.lost", ownerId: row.ownerId, projectId: row.projectId, data: { sandboxId: row.id, name: row.name, reason, oomKilled } }),
    );
  }

  async #restart(row: Row): Promise<void> {
    const current = await this.#write(row, { phase: "stopping", restartRequested: false }, "sandbox.phase");
    if (!current) return;
    await this.options.driver.stop(row.id, { signal: this.#abort.signal, graceMs: this.options.stopGraceMs });
    await this.#provision(current);
  }

  async #stopSandbox(row: Row): Promise<void> {
    if (!(await this.#write(row, { phase: "stopping" }, "sandbox.phase"))) return;
    try {
      await this.options.driver.stop(row.id, { signal: this.#abort.signal, graceMs: this.options.stopGraceMs });
      await this.#write(row, { phase: "stopped", stages: freshStages(this.options.driver.stages), error: null }, "sandbox.phase");
    } catch (error) {
      if (!this.#abort.signal.aborted) await this.#write(row, { phase: "failed", error: describe(error) }, "sandbox.phase");
    }
  }

  async #remove(row: Row): Promise<void> {
    if (row.phase !== "deleting" && !(await this.#write(row, { phase: "deleting" }, "sandbox.phase"))) return;
    try {
      await this.options.driver.remove(row.id, { keepWorkspace: row.keepWorkspace, signal: this.#abort.signal, graceMs: this.options.stopGraceMs });
      await this.#write(row, { phase: "deleted" }, "sandbox.phase");
    } catch (error) {
      if (!this.#abort.signal.aborted) {
        this.options.log.warn({ sandboxId: row.id, err: error }, "sandbox removal failed; will retry");
        await this.#write(row, { error: describe(error) }, "sandbox.phase");
      }
    }
  }

  #spec(row: Row): SandboxSpec {
    return {
      sandboxId: row.id,
      name: row.name,
      ...(row.workspaceFrom ? { workspaceFrom: row.workspaceFrom } : {}),
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    };
  }

  /** Writes observed state and its event in one transaction, only if intent has not moved on. */
  async #write(row: Row, fields: Parameters<typeof store.writeObserved>[3], type: string, extra: Record<string, unknown> = {}): Promise<Row | null> {
    return withTransaction(this.options.pool, async (tx) => {
      const updated = await store.writeObserved(tx, row.id, row.generation, fields);
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

/** An error as stored and shown: a code and a bounded message. */
function describe(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown }).code;
  const message = String((error as Error).message ?? error);
  return {
    code: typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : "SANDBOX_START_FAILED",
    message: message.length > 4000 ? `${message.slice(0, 4000)}…` : message,
  };
}
