// Sandbox use cases. A user verb only writes the desired state (and an event) in one
// transaction, then wakes the reconciler; the response says where things stand and the
// events stream says when they move. Nothing here touches the machine. Every method takes
// the acting principal; authorize() decides on their role in the sandbox's project.
import type pg from "pg";
import { type Principal, type ProjectAction, requireAllowed } from "../domain/authorization.ts";
import { notFound, OutpostError } from "../domain/errors.ts";
import { fingerprint } from "../domain/idempotency.ts";
import { newId } from "../domain/ids.ts";
import { decodeCursor, encodeCursor, type Page } from "../domain/pagination.ts";
import { desiredFor, freshStages, sandboxName, type Verb } from "../domain/sandbox-lifecycle.ts";
import { type Queryable, withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import * as store from "../store/sandboxes.ts";
import { replayOf } from "./idempotency.ts";
import { resolveProject } from "./project-access.ts";

/** The use cases answer the row as stored; the API presents it. */
export type SandboxRow = store.SandboxRow;

export interface SandboxServiceDeps {
  pool: pg.Pool;
  driverName: "local" | "kubernetes";
  /** The driver's stage names (the sandbox's `stages` list them, then ready). */
  driverStages: readonly string[];
  /** Throws SANDBOX_RUNTIME_UNAVAILABLE (with the fix) when this host cannot run sandboxes. */
  assertRuntimeAvailable: () => Promise<void>;
  wake: (sandboxId: string) => void;
  /** The environments' warm pool (services/environments/pool.ts), bound once it exists. */
  warmPool?: () => WarmPoolClaims | undefined;
}

/** What a create asks of the warm pool. */
export interface WarmPoolClaims {
  keyFor(projectId: string): Promise<string | null>;
  claim(tx: Queryable, projectId: string, key: string): Promise<{ id: string; hostname: string } | null>;
  kick(): void;
}

const CREATE_ATTEMPTS = 5;

export class SandboxService {
  constructor(private readonly deps: SandboxServiceDeps) {}

  /** With an idempotency key, a repeated create answers the sandbox the first one made. */
  async create(principal: Principal, projectRef: string, idempotencyKey?: string): Promise<SandboxRow> {
    const ownerId = principal.userId;
    const project = await resolveProject(this.deps.pool, principal, projectRef, "sandbox.create");
    await this.deps.assertRuntimeAvailable();
    const warmPool = this.deps.warmPool?.();
    const poolKey = (await warmPool?.keyFor(project.id).catch(() => null)) ?? null;
    // A random name can collide with a concurrent create; the unique constraint catches it
    // and we simply draw again.
    for (let attempt = 1; ; attempt++) {
      try {
        let id = newId("sandbox");
        const { row, replayed } = await withTransaction(this.deps.pool, async (tx) => {
          // A warm sandbox of the project's environment becomes this one: its id and hostname.
          // Claimed under a savepoint: a replayed create gives the member back.
          if (poolKey !== null && warmPool) await tx.query("savepoint pool_claim");
          const claimed = poolKey !== null && warmPool ? await warmPool.claim(tx, project.id, poolKey) : null;
          if (claimed) id = claimed.id;
          if (idempotencyKey) {
            const request = { key: idempotencyKey, scope: "sandbox.create" as const, fingerprint: fingerprint("sandbox.create", project.id) };
            const earlier = await replayOf(tx, ownerId, request, id);
            if (earlier) {
              if (claimed) await tx.query("rollback to savepoint pool_claim");
              return { row: await this.#find(tx, principal, earlier, "sandbox.read"), replayed: true };
            }
          }
          const created = await store.insertSandbox(tx, {
            id,
            projectId: project.id,
            ownerId,
            name: claimed?.hostname ?? sandboxName(project.name),
            driver: this.deps.driverName,
            stages: freshStages(this.deps.driverStages),
          });
          await appendEvent(tx, { type: "sandbox.created", ownerId, projectId: project.id, data: { sandboxId: created.id, name: created.name } });
          return { row: created, replayed: false };
        });
        if (!replayed) this.deps.wake(row.id);
        if (poolKey !== null) warmPool?.kick();
        return row;
      } catch (error) {
        if ((error as { code?: string }).code !== "23505" || attempt >= CREATE_ATTEMPTS) throw error;
      }
    }
  }

  async get(principal: Principal, ref: string): Promise<SandboxRow> {
    return this.#find(this.deps.pool, principal, ref, "sandbox.read");
  }

  /** The row itself, for routes that talk to the sandbox's supervisor, if the caller may do `action` there. */
  async row(principal: Principal, ref: string, action: ProjectAction): Promise<store.SandboxRow> {
    return this.#find(this.deps.pool, principal, ref, action);
  }

  /** The sandboxes of the projects the caller is a member of. */
  async list(principal: Principal, options: { projectRef?: string; includeDeleted: boolean; limit: number; cursor?: string }): Promise<Page<SandboxRow>> {
    const projectId = options.projectRef ? (await resolveProject(this.deps.pool, principal, options.projectRef, "sandbox.read")).id : undefined;
    const afterSeq = options.cursor === undefined ? 0 : decodeCursor(options.cursor);
    const filter = { userId: principal.userId, projectId, includeDeleted: options.includeDeleted };
    const rows = await store.listSandboxes(this.deps.pool, filter, afterSeq, options.limit + 1);
    const last = rows.length > options.limit ? rows[options.limit - 1] : undefined;
    return { items: rows.slice(0, options.limit), nextCursor: last ? encodeCursor(last.seq) : null };
  }

  /** start | stop | restart | delete: writes the desired state; the reconciler does the rest. */
  async act(principal: Principal, ref: string, verb: Verb, options: { keepWorkspace?: boolean } = {}): Promise<SandboxRow> {
    const row = await withTransaction(this.deps.pool, async (tx) => {
      const current = await this.#find(tx, principal, ref, "sandbox.lifecycle", true);
      const desired = desiredFor(verb, current.phase);
      const updated = await store.setDesired(tx, current.id, desired, {
        ...(verb === "delete" ? { keepWorkspace: options.keepWorkspace ?? false } : {}),
        ...(verb === "restart" ? { restart: true } : {}),
      });
      await appendEvent(tx, {
        type: "sandbox.desired",
        ownerId: principal.userId,
        projectId: current.projectId,
        data: { sandboxId: current.id, name: current.name, verb, desired },
      });
      return updated;
    });
    this.deps.wake(row.id);
    return row;
  }

  async #find(db: Queryable, principal: Principal, ref: string, action: ProjectAction, forUpdate = false): Promise<store.SandboxRow> {
    const row = await store.findSandbox(db, principal.userId, ref, forUpdate);
    if (!row) throw notFound("sandbox", ref);
    requireAllowed(principal, action, { kind: "sandbox", ref, role: row.role, project: { id: row.projectId, name: row.projectName } });
    return row;
  }
}

/** Refuses talking to a sandbox that is not running, with the phase in the message. */
export function assertRunning(row: store.SandboxRow): void {
  if (row.phase !== "running") {
    throw new OutpostError("SANDBOX_WRONG_PHASE", `Sandbox ${row.name} is ${row.phase}, not running${row.phase === "stopped" ? "; start it first" : ""}.`, {
      details: { phase: row.phase },
    });
  }
}
