// Sandbox rows. Users write `desired` (bumping `generation`); the reconciler writes phase,
// stages and error, fenced by the generation it acted on and by the lease it holds (so two
// control-plane replicas never act on one sandbox at once, migrations/0006).
import type { Role } from "../domain/authorization.ts";
import type { IdleState } from "../domain/idle.ts";
import type { Desired, Phase, Stage } from "../domain/sandbox-lifecycle.ts";
import type { Queryable } from "./database.ts";

export interface SandboxRow {
  id: string;
  seq: number;
  projectId: string;
  ownerId: string;
  name: string;
  isPrimary: boolean;
  driver: "local" | "kubernetes";
  desired: Desired;
  generation: number;
  phase: Phase;
  stages: Stage[];
  error: SandboxError | null;
  keepWorkspace: boolean;
  /** What the driver reported about its compute (e.g. the local driver's host uid). */
  driverState: Record<string, unknown>;
  restartRequested: boolean;
  workspaceFrom: string | null;
  /** The generation whose action last finished (succeeded or failed). */
  actedGeneration: number;
  /** Failed attempts in a row at this generation (retryable failures only). */
  attempts: number;
  nextAttemptAt: Date | null;
  /** 'stopped' when stopped for idleness (requests wake it), 'waking' once one did (migrations/0014). */
  idleState: IdleState;
  /** The last activity as written down now and then (services/sandbox-activity.ts). */
  lastActiveAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** What went wrong, as users see it (the registry's code, message and hint). */
export interface SandboxError {
  code: string;
  message: string;
  hint?: string;
  retryable?: boolean;
  /** ISO time of the next automatic attempt, for retryable failures. */
  nextAttemptAt?: string;
}

// bigint columns the code compares come back as numbers (node-postgres gives bigints as strings).
const COLUMNS = `id, seq, project_id as "projectId", owner_id as "ownerId", name, is_primary as "isPrimary", driver, desired,
  generation::float8 as generation, phase, stages, error, keep_workspace as "keepWorkspace", driver_state as "driverState",
  restart_requested as "restartRequested", workspace_from as "workspaceFrom", acted_generation::float8 as "actedGeneration",
  attempts, next_attempt_at as "nextAttemptAt", idle_state as "idleState", last_active_at as "lastActiveAt",
  created_at as "createdAt", updated_at as "updatedAt"`;

export async function insertSandbox(tx: Queryable, row: Pick<SandboxRow, "id" | "projectId" | "ownerId" | "name" | "driver" | "stages">): Promise<SandboxRow> {
  // The newest workspace kept by a deleted sandbox of this project, if no one took it yet.
  const { rows } = await tx.query(
    `insert into sandboxes (id, project_id, owner_id, name, driver, desired, phase, stages, is_primary, workspace_from)
     values ($1, $2, $3, $4, $5, 'running', 'pending', $6,
             not exists (select 1 from sandboxes where project_id = $2 and phase <> 'deleted'),
             (select k.id from sandboxes k
               where k.project_id = $2 and k.phase = 'deleted' and k.keep_workspace
                 and not exists (select 1 from sandboxes t where t.workspace_from = k.id)
               order by k.seq desc limit 1))
     returning ${COLUMNS}`,
    [row.id, row.projectId, row.ownerId, row.name, row.driver, JSON.stringify(row.stages)],
  );
  return rows[0] as SandboxRow;
}

/** A sandbox as one user sees it: with their role on its project (null: none). */
export type VisibleSandbox = SandboxRow & { role: Role | null; projectName: string };

/** By id or name (both unique), with `userId`'s role on its project for authorize() to decide on. */
export async function findSandbox(db: Queryable, userId: string, ref: string, forUpdate = false): Promise<VisibleSandbox | null> {
  const { rows } = await db.query(
    `select ${COLUMNS},
            (select m.role from project_members m where m.project_id = sandboxes.project_id and m.user_id = $1) as role,
            (select p.name from projects p where p.id = sandboxes.project_id) as "projectName"
       from sandboxes where id = $2 or name = $2${forUpdate ? " for update" : ""}`,
    [userId, ref],
  );
  return (rows[0] as VisibleSandbox | undefined) ?? null;
}

export async function getSandbox(db: Queryable, id: string): Promise<SandboxRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from sandboxes where id = $1`, [id]);
  return (rows[0] as SandboxRow | undefined) ?? null;
}

export async function listSandboxes(
  db: Queryable,
  filter: { userId: string; projectId?: string; includeDeleted: boolean },
  afterSeq: number,
  limit: number,
): Promise<SandboxRow[]> {
  // Only sandboxes of projects the user is a member of.
  const { rows } = await db.query(
    `select ${COLUMNS} from sandboxes s
      where s.project_id in (select project_id from project_members where user_id = $1)
        and ($2::text is null or s.project_id = $2) and ($3 or s.phase <> 'deleted') and s.seq > $4
      order by s.seq limit $5`,
    [filter.userId, filter.projectId ?? null, filter.includeDeleted, afterSeq, limit],
  );
  return rows as SandboxRow[];
}

/** Ids of every sandbox the reconciler may still have work on. */
export async function liveSandboxIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query(`select id from sandboxes where phase <> 'deleted' order by seq`);
  return rows.map((r: { id: string }) => r.id);
}

export async function countLiveSandboxes(db: Queryable, projectId: string): Promise<number> {
  const { rows } = await db.query(`select count(*)::int as n from sandboxes where project_id = $1 and phase <> 'deleted'`, [projectId]);
  return (rows[0] as { n: number }).n;
}

/** A user's change of intent: bumps the generation so in-flight reconciler work is fenced off.
 *  It also clears an idle stop: a sandbox a user stopped (or started) is theirs to wake. */
export async function setDesired(tx: Queryable, id: string, desired: Desired, extra: { keepWorkspace?: boolean; restart?: boolean } = {}): Promise<SandboxRow> {
  const { rows } = await tx.query(
    `update sandboxes set desired = $2, generation = generation + 1, updated_at = now(), attempts = 0, next_attempt_at = null,
            keep_workspace = coalesce($3, keep_workspace), restart_requested = coalesce($4, restart_requested), idle_state = null
      where id = $1 returning ${COLUMNS}`,
    [id, desired, extra.keepWorkspace ?? null, extra.restart ?? null],
  );
  return rows[0] as SandboxRow;
}

/** What the reconciler writes about a sandbox (all optional; `error: null` clears it). */
export interface ObservedFields {
  phase?: Phase;
  stages?: Stage[];
  error?: SandboxError | null;
  driverState?: Record<string, unknown>;
  restartRequested?: boolean;
  /** Marks the generation acted on as finished. */
  acted?: boolean;
  /** A retryable failure's count and next attempt; `null` resets them. */
  retry?: { attempts: number; nextAttemptAt: Date } | null;
}

/**
 * The reconciler's write: applies only while the generation is the one it acted on and
 * the lease is still `holder`'s. Null when it no longer applies (a newer intent, or another
 * replica took over): the caller stops and the loop looks again.
 */
export async function writeObserved(tx: Queryable, id: string, generation: number, holder: string, fields: ObservedFields): Promise<SandboxRow | null> {
  const { rows } = await tx.query(
    `update sandboxes set
        phase = coalesce($4, phase),
        stages = coalesce($5, stages),
        error = case when $6::boolean then $7::jsonb else error end,
        driver_state = coalesce($8::jsonb, driver_state),
        restart_requested = coalesce($9, restart_requested),
        acted_generation = case when $10::boolean then generation else acted_generation end,
        attempts = case when $11::boolean then coalesce($12, 0) else attempts end,
        next_attempt_at = case when $11::boolean then $13::timestamptz else next_attempt_at end,
        updated_at = now()
      where id = $1 and generation = $2 and lease_owner = $3
      returning ${COLUMNS}`,
    [
      id,
      generation,
      holder,
      fields.phase ?? null,
      fields.stages ? JSON.stringify(fields.stages) : null,
      "error" in fields,
      fields.error ? JSON.stringify(fields.error) : null,
      fields.driverState ? JSON.stringify(fields.driverState) : null,
      fields.restartRequested ?? null,
      fields.acted ?? false,
      "retry" in fields,
      fields.retry?.attempts ?? null,
      fields.retry?.nextAttemptAt ?? null,
    ],
  );
  return (rows[0] as SandboxRow | undefined) ?? null;
}

/**
 * Takes or renews the lease on a sandbox for `holder` until now + ttlMs, unless another
 * replica holds an unexpired one. Returns the row (as of the lease), or null.
 */
export async function takeLease(db: Queryable, id: string, holder: string, ttlMs: number): Promise<SandboxRow | null> {
  const { rows } = await db.query(
    `update sandboxes set lease_owner = $2, lease_until = now() + make_interval(secs => $3::float8 / 1000)
      where id = $1 and phase <> 'deleted' and (lease_owner is null or lease_owner = $2 or lease_until < now())
      returning ${COLUMNS}`,
    [id, holder, ttlMs],
  );
  return (rows[0] as SandboxRow | undefined) ?? null;
}

/**
 * How many other sandboxes hold compute (provisioning, running or stopping), under a
 * transaction-scoped lock so that two provisions never both take the last place.
 */
export async function lockAndCountRunning(tx: Queryable, exceptId: string): Promise<number> {
  await tx.query(`select pg_advisory_xact_lock(hashtext('outpost.sandbox-capacity'))`);
  const { rows } = await tx.query<{ n: number }>(
    `select (select count(*) from sandboxes where id <> $1 and phase in ('provisioning', 'running', 'stopping'))::int
          + (select count(*) from pool_members where id <> $1)::int as n`,
    [exceptId],
  );
  return rows[0]?.n ?? 0;
}

/** Lease holders of live sandboxes (to find those of replicas that are gone). */
export async function leaseHolders(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ lease_owner: string }>(`select distinct lease_owner from sandboxes where lease_owner is not null`);
  return rows.map((r) => r.lease_owner);
}

/** Drops every lease of `holder` (a replica known to be dead). */
export async function releaseLeasesOf(db: Queryable, holder: string): Promise<number> {
  const result = await db.query(`update sandboxes set lease_owner = null, lease_until = null where lease_owner = $1`, [holder]);
  return result.rowCount ?? 0;
}

export async function releaseLease(db: Queryable, id: string, holder: string): Promise<void> {
  await db.query(`update sandboxes set lease_owner = null, lease_until = null where id = $1 and lease_owner = $2`, [id, holder]);
}

export async function currentGeneration(db: Queryable, id: string): Promise<number | null> {
  const { rows } = await db.query<{ generation: string }>(`select generation from sandboxes where id = $1`, [id]);
  return rows[0] ? Number(rows[0].generation) : null;
}

/** Of `ids`, those the store knows as live (not deleted). */
export async function knownLive(db: Queryable, ids: string[]): Promise<Set<string>> {
  // Warm pool members (store/pool.ts) are the driver's sandboxes too: never orphans.
  const { rows } = await db.query<{ id: string }>(
    `select id from sandboxes where id = any($1) and phase <> 'deleted' union all select id from pool_members where id = any($1)`,
    [ids],
  );
  return new Set(rows.map((r) => r.id));
}
