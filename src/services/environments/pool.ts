// The warm pool (issue 20): per environment, `poolSize` sandboxes started ahead on its
// current layers, neutral (no project, no variables, no egress: the proxy knows no project
// for them) until a create of a project of that environment claims one.
//
// How a claimed sandbox becomes the project's: a running sandbox's mounts cannot change, so
// nothing of the project is mounted into it. Its own folders (an empty workspace and home,
// its writable layer) become the project's sandbox's: the claim deletes the member's row and
// inserts the project's sandbox row under the member's id, in one transaction. The
// reconciler then adopts the running sandbox as it would after a restart of the control
// plane, and runs the control plane's stages (database, repository clone into the empty
// workspace, maintenance). Everything project-specific reaches a sandbox per request (each
// command's env, the egress policy looked up by sandbox id) and so applies from the claim
// on. What stays from the pool: the hostname the member was started with (<environment>-xxxxxx).
// A create whose project has a kept workspace to take over starts a sandbox of its own.
//
// Refills run in the background and after each claim; a member's row is written before its
// sandbox starts, so a control plane killed mid-refill leaves a 'starting' row that the next
// start removes with its sandbox. Members are counted against the installation's cap.
import type pg from "pg";
import type { Logger } from "pino";
import { type Capacity, capacityProblem } from "../../domain/capacity.ts";
import { newId, randomLowerAlnum } from "../../domain/ids.ts";
import type { Driver, SandboxLimits } from "../../drivers/driver.ts";
import { type Queryable, withTransaction } from "../../store/database.ts";
import * as store from "../../store/pool.ts";
import { lockAndCountRunning } from "../../store/sandboxes.ts";
import type { EnvironmentService } from "./environments.ts";

export type PoolDriver = Pick<Driver, "ensure" | "remove" | "inspect">;

export interface WarmPoolOptions {
  pool: pg.Pool;
  environments: EnvironmentService;
  /** The sandbox driver (bound late: made after the environments). */
  driver: () => PoolDriver | undefined;
  limits?: SandboxLimits;
  capacity?: Capacity;
  log: Logger;
  /** How often pools are topped up without a claim to prompt it (ms); default 10 000. */
  checkMs?: number;
}

export class WarmPool {
  #timer?: NodeJS.Timeout;
  #filling: Promise<void> | null = null;
  #again = false;
  readonly #stopping = new AbortController();

  constructor(private readonly options: WarmPoolOptions) {}

  /** The layers key a member must run for the project's create to claim it; null: no pool. */
  async keyFor(projectId: string): Promise<string | null> {
    return this.options.environments.poolKeyForProject(projectId);
  }

  /** In the create's transaction: a ready member of the project's environment, taken. */
  claim(tx: Queryable, projectId: string, key: string): Promise<{ id: string; hostname: string } | null> {
    return store.claimPoolMember(tx, projectId, key);
  }

  /** Members a killed control plane left half started, or whose sandbox is gone, removed; then a fill. */
  async start(): Promise<void> {
    for (const member of await store.poolMembers(this.options.pool)) {
      const seen = await this.#driver()
        .inspect(member.id)
        .catch(() => null);
      if (member.state === "starting" || seen?.state !== "running") await this.#discard(member.id, "left half started, or its sandbox is gone");
    }
    this.kick();
    this.#timer = setInterval(() => this.kick(), this.options.checkMs ?? 10_000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#stopping.abort();
    await this.#filling?.catch(() => {});
  }

  /** Tops the pools up soon (one fill at a time; a kick during one runs another after it). */
  kick(): void {
    if (this.#stopping.signal.aborted) return;
    if (this.#filling) {
      this.#again = true;
      return;
    }
    this.#filling = this.#fill()
      .catch((error: Error) => this.options.log.warn({ err: error }, "filling the warm pool failed"))
      .finally(() => {
        this.#filling = null;
        if (this.#again) {
          this.#again = false;
          this.kick();
        }
      });
  }

  /** Resolves once no fill is running (tests). */
  async settled(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  async #fill(): Promise<void> {
    const signal = this.#stopping.signal;
    const targets = await this.options.environments.poolTargets();
    const wanted = new Set(targets.map((target) => target.environment.id));
    for (const member of await store.poolMembers(this.options.pool)) {
      // An environment whose pool was set to 0 (or deleted: its rows cascade) keeps none.
      if (!wanted.has(member.environmentId)) await this.#discard(member.id, "its environment keeps no pool");
    }
    for (const target of targets) {
      if (signal.aborted) return;
      const members = await store.poolMembers(this.options.pool, target.environment.id);
      // Members on layers the environment no longer has (its setup changed) go.
      for (const member of members.filter((m) => m.imageKey !== target.key)) await this.#discard(member.id, "its environment changed");
      let count = members.filter((m) => m.imageKey === target.key).length;
      while (count < target.environment.poolSize && !signal.aborted) {
        const started = await this.#add(target.environment.id, target.environment.name, target.key, target.layers);
        if (!started) break;
        count++;
      }
    }
  }

  /** One more member; false when the installation is full. */
  async #add(environmentId: string, environmentName: string, key: string, layers: string[]): Promise<boolean> {
    const id = newId("sandbox");
    const hostname = `${environmentName.slice(0, 40)}-${randomLowerAlnum(6)}`;
    const admitted = await withTransaction(this.options.pool, async (tx) => {
      const capacity = this.options.capacity;
      if (capacity) {
        const count = await lockAndCountRunning(tx, id);
        const memory = this.options.limits?.memoryBytes ?? 0;
        if (capacityProblem(capacity, { count, memoryBytes: count * memory }, memory)) return false;
      }
      await store.insertPoolMember(tx, { id, environmentId, hostname, imageKey: key });
      return true;
    });
    if (!admitted) return false;
    try {
      await this.#driver().ensure(
        { sandboxId: id, name: hostname, limits: this.options.limits, ...(layers.length ? { image: { id: key, layers } } : {}) },
        { signal: this.#stopping.signal, onStage: () => {} },
      );
      if (!(await store.markPoolMemberReady(this.options.pool, id))) await this.#discard(id, "its row went while it started");
      this.options.log.info({ sandboxId: id, environment: environmentName }, "warm pool member ready");
      return true;
    } catch (error) {
      this.options.log.warn({ err: error, sandboxId: id }, "a warm pool member did not start");
      await this.#discard(id, "it did not start");
      return false;
    }
  }

  /** The member's sandbox first, then its row (a kill in between leaves the row to retry). */
  async #discard(id: string, why: string): Promise<void> {
    this.options.log.info({ sandboxId: id, why }, "removing a warm pool member");
    await this.#driver().remove(id, { keepWorkspace: false, signal: AbortSignal.timeout(60_000) });
    await store.deletePoolMember(this.options.pool, id);
  }

  #driver(): PoolDriver {
    const driver = this.options.driver();
    if (!driver) throw new Error("the sandbox driver is not ready");
    return driver;
  }
}
