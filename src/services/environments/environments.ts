// Environments as use cases: define, change, list, build (with a kept log), and what a
// sandbox of a project starts from (its layers) and runs at every start (maintenance).
// Anyone signed in may read and use an environment; its creator or an admin changes it.
import { existsSync } from "node:fs";
import type pg from "pg";
import type { Principal } from "../../domain/authorization.ts";
import type { EgressPolicy } from "../../domain/egress-policy.ts";
import { boundedLog, DEFAULT_SETUP_EGRESS, hasOwnRoot, parseImageRef } from "../../domain/environments.ts";
import { OutpostError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { SandboxImage } from "../../drivers/driver.ts";
import { withTransaction } from "../../store/database.ts";
import * as store from "../../store/environments.ts";
import { poolMembers } from "../../store/pool.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import type { EnvironmentBuilder } from "./builder.ts";

export type { BuildRow, EnvironmentRow } from "../../store/environments.ts";

export interface EnvironmentView extends store.EnvironmentRow {
  cache: "none" | "ready" | "stale";
  /** Its warm pool now: members started and waiting for a create, and members starting. */
  warm: { ready: number; starting: number };
  projects: string[];
  lastBuild: store.BuildRow | null;
}

export interface EnvironmentInput {
  image?: string;
  setup?: string | null;
  maintenance?: string | null;
  setupEnv?: Record<string, string>;
  setupEgress?: Partial<EgressPolicy>;
  poolSize?: number;
}

/** How often a running build's log is written to its row (it is streamed to stages at once). */
const LOG_FLUSH_MS = 1000;

export class EnvironmentService {
  readonly #builds = new KeyedQueue();

  /** `builder`: null when this control plane cannot make images (not root): only `host`. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly builder: EnvironmentBuilder | null,
  ) {}

  get canBuildImages(): boolean {
    return this.builder !== null;
  }

  async list(_principal: Principal): Promise<EnvironmentView[]> {
    const rows = await store.listEnvironments(this.pool);
    return Promise.all(rows.map((row) => this.#view(row)));
  }

  async get(_principal: Principal, ref: string): Promise<EnvironmentView> {
    return this.#view(await this.#find(ref));
  }

  async create(principal: Principal, name: string, input: EnvironmentInput): Promise<EnvironmentView> {
    const fields = this.#fields(input, null);
    const row = await store.insertEnvironment(this.pool, { id: newId("environment"), name, ownerId: principal.userId, ...fields });
    if (!row) throw new OutpostError("ENVIRONMENT_EXISTS", `An environment named '${name}' exists already.`, { details: { name } });
    return this.#view(row);
  }

  async update(principal: Principal, ref: string, input: EnvironmentInput): Promise<EnvironmentView> {
    const current = await this.#find(ref);
    this.#requireOwner(principal, current);
    const updated = await store.updateEnvironment(this.pool, current.id, this.#fields(input, current));
    if (!updated) throw environmentNotFound(ref);
    return this.#view(updated);
  }

  async remove(principal: Principal, ref: string): Promise<void> {
    const current = await this.#find(ref);
    this.#requireOwner(principal, current);
    await withTransaction(this.pool, async (tx) => {
      const users = await store.projectsUsing(tx, current.id);
      if (users.length)
        throw new OutpostError("ENVIRONMENT_IN_USE", `Environment '${current.name}' is used by ${users.join(", ")}.`, { details: { projects: users } });
      await store.deleteEnvironment(tx, current.id);
    });
  }

  /** Starts a build (even when cached: the log then says so); the row to follow. */
  async build(principal: Principal, ref: string): Promise<store.BuildRow> {
    const environment = await this.#find(ref);
    this.#requireOwner(principal, environment);
    const started = await this.#startBuild(environment);
    void started.done.catch(() => {});
    return started.row;
  }

  async lastBuild(_principal: Principal, ref: string): Promise<store.BuildRow> {
    const environment = await this.#find(ref);
    const build = await store.latestBuild(this.pool, environment.id);
    if (!build)
      throw new OutpostError("ENVIRONMENT_NOT_FOUND", `Environment '${environment.name}' has not been built yet.`, {
        fix: `outpost environment build ${environment.name}`,
      });
    return build;
  }

  /** The project's environment by name (for project updates); null clears it. */
  async resolveForProject(name: string | null): Promise<string | null> {
    if (name === null) return null;
    const row = await store.findEnvironment(this.pool, name);
    if (!row) throw environmentNotFound(name);
    if (hasOwnRoot(parseImageRef(row.image) as never) && !this.canBuildImages) throw needsRoot();
    return row.id;
  }

  /**
   * What a sandbox of the project starts from: its image's layers, made when missing (a
   * build, logged like any other). Cached: a line saying so. No environment: the host's /usr.
   */
  async forSandbox(projectId: string, progress: (message: string) => void, signal: AbortSignal): Promise<{ image?: SandboxImage; summary: string }> {
    const environment = await store.environmentOfProject(this.pool, projectId);
    if (!environment) return { summary: "none: the host's /usr" };
    const image = parseImageRef(environment.image);
    if (typeof image === "string" || image.kind === "host") return { summary: `${environment.name}: the host's /usr` };
    if (!this.builder) throw needsRoot();
    const planned = await this.builder.plan(this.#definition(environment)).catch(() => null);
    if (planned?.cached) return { image: { id: planned.key, layers: planned.layers }, summary: `${environment.name}: cached (${planned.key})` };
    const started = await this.#startBuild(environment, progress);
    try {
      const built = await abortable(started.done, signal);
      return { image: { id: built.key, layers: built.layers }, summary: `${environment.name}: built (${built.key})` };
    } catch (error) {
      if (signal.aborted) throw error;
      // A failed build is the build's failure (its log says why), not the sandbox's: the
      // sandbox starts from the last build that worked, while its layers are still here.
      const good = await store.latestGoodBuild(this.pool, environment.id);
      if (good && good.layers.length > 0 && good.layers.every((layer) => existsSync(layer))) {
        return {
          image: { id: good.key, layers: good.layers },
          summary: `${environment.name}: the build failed (outpost environment logs ${environment.name}); started from the last good build (${good.key})`,
        };
      }
      throw error;
    }
  }

  /** Environments that keep a warm pool, with the layers a member runs now (made when
   *  missing: a pool never waits for a sandbox's first start to build). */
  async poolTargets(): Promise<Array<{ environment: store.EnvironmentRow; key: string; layers: string[] }>> {
    const targets = [];
    for (const environment of await store.listEnvironments(this.pool)) {
      if (environment.poolSize === 0) continue;
      const image = parseImageRef(environment.image);
      if (typeof image === "string") continue;
      if (image.kind === "host") {
        targets.push({ environment, key: "host", layers: [] });
        continue;
      }
      if (!this.builder) continue;
      const planned = await this.builder.plan(this.#definition(environment));
      if (planned.cached) {
        targets.push({ environment, key: planned.key, layers: planned.layers });
        continue;
      }
      const started = await this.#startBuild(environment).catch(() => null);
      const built = await started?.done.catch(() => null);
      if (built) targets.push({ environment, key: built.key, layers: built.layers });
    }
    return targets;
  }

  /** The layers key a pool member must run for this project's create to take it; null when
   *  its environment keeps no pool (or is not built yet). */
  async poolKeyForProject(projectId: string): Promise<string | null> {
    const environment = await store.environmentOfProject(this.pool, projectId);
    if (!environment || environment.poolSize === 0) return null;
    const image = parseImageRef(environment.image);
    if (typeof image === "string") return null;
    if (image.kind === "host") return "host";
    const planned = await this.builder?.plan(this.#definition(environment)).catch(() => null);
    return planned?.cached ? planned.key : null;
  }

  /** The maintenance script of the project's environment, if any, and whom it runs as
   *  (root inside where there is one: an image; else the sandbox user). */
  async maintenanceOf(projectId: string): Promise<{ script: string; user: "root" | "user" } | null> {
    const environment = await store.environmentOfProject(this.pool, projectId);
    if (!environment?.maintenance) return null;
    const image = parseImageRef(environment.image);
    return { script: environment.maintenance, user: typeof image !== "string" && hasOwnRoot(image) ? "root" : "user" };
  }

  /** Images and layers that no environment needs as defined now, no environment's last good
   *  build made, and no sandbox was started on (`inUse`), removed. */
  async collectGarbage(inUse: string[]): Promise<string[]> {
    if (!this.builder) return [];
    const rows = await store.listEnvironments(this.pool);
    const good = await Promise.all(rows.map((row) => store.latestGoodBuild(this.pool, row.id)));
    const keep = [...inUse, ...good.flatMap((build) => build?.layers ?? [])];
    return this.builder.collect(
      rows.map((row) => this.#definition(row)),
      keep,
    );
  }

  /** One build per environment at a time; later callers wait for it and share its outcome. */
  async #startBuild(
    environment: store.EnvironmentRow,
    progress?: (message: string) => void,
  ): Promise<{ row: store.BuildRow; done: Promise<{ key: string; layers: string[] }> }> {
    const builder = this.builder;
    if (!builder) throw needsRoot();
    const row = await store.insertBuild(this.pool, { id: newId("build"), environmentId: environment.id, key: "" });
    let log = "";
    let flushed = 0;
    let flushing: Promise<void> = Promise.resolve();
    const write = (text: string) => {
      log = boundedLog(log + text);
      const line = text.trim().split("\n").pop();
      if (line) progress?.(line.slice(0, 300));
      if (Date.now() - flushed > LOG_FLUSH_MS) {
        flushed = Date.now();
        flushing = flushing.then(() => store.writeBuildLog(this.pool, row.id, log)).catch(() => {});
      }
    };
    const done = this.#builds.run(environment.id, async () => {
      try {
        const built = await builder.layers(this.#definition(environment), { signal: AbortSignal.timeout(2 * 3600_000), progress: write });
        await flushing;
        await store.finishBuild(this.pool, row.id, { state: "ready", key: built.key, cached: built.cached, layers: built.layers, log, error: null });
        return built;
      } catch (error) {
        const message = (error as Error).message;
        write(`\nbuild failed: ${message}\n`);
        await flushing;
        await store.finishBuild(this.pool, row.id, { state: "failed", key: "", cached: false, layers: [], log, error: message });
        throw error instanceof OutpostError ? error : new OutpostError("IMAGE_BUILD_FAILED", message, { cause: error });
      }
    });
    return { row, done };
  }

  #definition(row: store.EnvironmentRow) {
    return { name: row.name, image: row.image, setup: row.setup, setupEnv: row.setupEnv, setupEgress: row.setupEgress };
  }

  async #view(row: store.EnvironmentRow): Promise<EnvironmentView> {
    const [projects, lastBuild, members] = await Promise.all([
      store.projectsUsing(this.pool, row.id),
      store.latestBuild(this.pool, row.id),
      poolMembers(this.pool, row.id),
    ]);
    const warm = { ready: members.filter((m) => m.state === "ready").length, starting: members.filter((m) => m.state === "starting").length };
    const image = parseImageRef(row.image);
    let cache: EnvironmentView["cache"] = "none";
    if (typeof image !== "string" && image.kind !== "host") {
      const planned = this.builder ? await this.builder.plan(this.#definition(row)).catch(() => null) : null;
      cache = planned?.cached ? "ready" : "stale";
    }
    return { ...row, cache, warm, projects, lastBuild };
  }

  #fields(input: EnvironmentInput, current: store.EnvironmentRow | null): store.EnvironmentFields {
    const image = input.image ?? current?.image ?? "host";
    const parsed = parseImageRef(image);
    if (typeof parsed !== "string" && hasOwnRoot(parsed) && !this.canBuildImages) throw needsRoot();
    const base = current?.setupEgress ?? DEFAULT_SETUP_EGRESS;
    return {
      image,
      setup: input.setup === undefined ? (current?.setup ?? null) : input.setup,
      maintenance: input.maintenance === undefined ? (current?.maintenance ?? null) : input.maintenance,
      setupEnv: input.setupEnv ?? current?.setupEnv ?? {},
      setupEgress: { ...base, ...input.setupEgress } as EgressPolicy,
      poolSize: input.poolSize ?? current?.poolSize ?? 0,
    };
  }

  async #find(ref: string): Promise<store.EnvironmentRow> {
    const row = await store.findEnvironment(this.pool, ref);
    if (!row) throw environmentNotFound(ref);
    return row;
  }

  #requireOwner(principal: Principal, row: store.EnvironmentRow): void {
    if (principal.isAdmin || principal.userId === row.ownerId) return;
    throw new OutpostError("FORBIDDEN", `Only its creator or an admin may change environment '${row.name}'.`, {
      details: { environment: row.name },
      fix: "Ask its creator, or make an environment of your own (outpost environment create).",
    });
  }
}

function environmentNotFound(ref: string): OutpostError {
  return new OutpostError("ENVIRONMENT_NOT_FOUND", `No environment '${ref}'.`, { details: { environment: ref } });
}

function needsRoot(): OutpostError {
  return new OutpostError("ENVIRONMENT_NEEDS_ROOT", "This Outpost does not run as root, so its sandboxes can only use the host's /usr (image: host).");
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
