// Makes each sandbox's actual state match its desired state: the generic reconcile loop
// (loop.ts: single flight, leases, cancellation by newer intent, retries on a clock) with
// the sandbox kind (sandbox-kind.ts: the actions), plus what only sandboxes have: the
// driver's link events. A dropped link wakes the sandbox at once (the kind gives its
// supervisor a grace period to come back); a refused link becomes a `sandbox.link.refused`
// event, at most one per sandbox a minute (with how many were left out), so a sandbox that
// dials in a loop cannot flood the event log.
//
// Everything is in the store, so the control plane can be killed at any line: the next
// start runs the same passes again; half-done provisioning is finished, a pending delete
// completes, a lease left by the dead replica expires.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type pg from "pg";
import type { Logger } from "pino";
import type { Capacity } from "../domain/capacity.ts";
import type { Driver, SandboxSpec } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/sandboxes.ts";
import type { LinkEvent } from "../supervisor/link/registry.ts";
import type { BackoffPolicy } from "./backoff.ts";
import { type Clock, ReconcileLoop, systemClock } from "./loop.ts";
import { SandboxKind, type SandboxPreparer } from "./sandbox-kind.ts";

export interface ReconcilerOptions {
  pool: pg.Pool;
  driver: Driver;
  log: Logger;
  /** How long a running sandbox's supervisor may stay disconnected before it is restarted (ms; default 15 000). */
  linkGraceMs?: number;
  /** How often every live sandbox is re-checked, and orphans looked for (ms). */
  resyncMs?: number;
  /** Grace for processes when stopping (ms). */
  stopGraceMs?: number;
  /** Limits applied to every sandbox (where the host's cgroups allow). */
  limits?: SandboxSpec["limits"];
  /** This replica's name in leases; default host name, pid and a random suffix. */
  holder?: string;
  leaseTtlMs?: number;
  clock?: Clock;
  backoff?: BackoffPolicy;
  /** Compute the store does not know is stopped after this long (ms; default 10 minutes). */
  orphanGraceMs?: number;
  /** The installation-wide cap on running sandboxes. */
  capacity?: Capacity;
  /** The control plane's own stages around the driver's (the database, the repository). */
  preparers?: SandboxPreparer[];
}

const REFUSAL_EVENT_INTERVAL_MS = 60_000;

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export class Reconciler {
  readonly #loop: ReconcileLoop<store.SandboxRow>;
  readonly #kind: SandboxKind;
  readonly #clock: Clock;
  #unsubscribe: (() => void) | null = null;
  /** Per sandbox: when its last refused link was recorded, and how many since were not. */
  readonly #refusals = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly options: ReconcilerOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#kind = new SandboxKind({
      pool: options.pool,
      driver: options.driver,
      log: options.log,
      clock: this.#clock,
      stopGraceMs: options.stopGraceMs,
      limits: options.limits,
      linkGraceMs: options.linkGraceMs,
      backoff: options.backoff,
      orphanGraceMs: options.orphanGraceMs,
      capacity: options.capacity,
      preparers: options.preparers,
    });
    this.#loop = new ReconcileLoop(this.#kind, {
      holder: options.holder ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`,
      clock: this.#clock,
      resyncMs: options.resyncMs,
      leaseTtlMs: options.leaseTtlMs,
      log: options.log,
    });
  }

  /** Adopts everything the store knows about and starts the periodic re-check. */
  async start(): Promise<void> {
    this.#unsubscribe = this.options.driver.onLinkEvent((event) => void this.#onLinkEvent(event));
    await this.#releaseLeasesOfDeadReplicas();
    await this.#loop.start();
  }

  /**
   * Leases of a replica on this host whose process is gone (a control plane killed with -9
   * and started again) are released at once instead of waiting for them to expire. A lease
   * of another host, or of a live pid, is left to expire.
   */
  async #releaseLeasesOfDeadReplicas(): Promise<void> {
    for (const holder of await store.leaseHolders(this.options.pool)) {
      const [host, pid] = holder.split(":");
      if (host !== hostname() || !pid || !/^\d+$/.test(pid) || processExists(Number(pid))) continue;
      const released = await store.releaseLeasesOf(this.options.pool, holder);
      if (released) this.options.log.info({ holder, released }, "released the leases of a control plane that is gone");
    }
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#loop.stop();
  }

  wake(id: string): void {
    this.#loop.wake(id);
  }

  /** Resolves once the sandbox has no action in flight (for tests and shutdown). */
  idle(id: string): Promise<void> {
    return this.#loop.idle(id);
  }

  /** Re-checks every live sandbox and looks for orphaned compute. */
  resync(): Promise<void> {
    return this.#loop.resync();
  }

  /** Every stage a start goes through, in order. */
  get stageNames(): string[] {
    return this.#kind.stageNames;
  }

  /** Orphaned sandboxes this replica currently sees (compute without a live row). */
  get orphans(): number {
    return this.#kind.orphanCount;
  }

  async #onLinkEvent(event: LinkEvent): Promise<void> {
    if (event.type === "down") return this.wake(event.sandboxId);
    if (event.type !== "refused") return;
    const now = this.#clock.now();
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
}
