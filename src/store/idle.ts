// The store's side of idle stop and wake (migrations/0014): the running sandboxes that may be
// stopped for idleness with what the store knows of their use, the idle stop and the wake
// (each a change of intent, so they bump the generation like a user's verb), and the coarse
// record of each sandbox's last activity.
import type { Queryable } from "./database.ts";
import { getSandbox, type SandboxRow } from "./sandboxes.ts";

/** A running sandbox (that should run), its project's idle timeout, and what the store knows of its use. */
export interface IdleCandidate {
  id: string;
  name: string;
  projectId: string;
  ownerId: string;
  generation: number;
  timeoutSeconds: number;
  /** When its `ready` stage ended: it became running then (ISO; null when not recorded). */
  readyAt: string | null;
  lastActiveAt: Date | null;
  /** An agent run of it is queued, running or waiting for an answer. */
  runActive: boolean;
  lastRunEndedAt: Date | null;
}

const ACTIVE_RUN = `status in ('queued', 'running', 'waiting')`;

export async function idleCandidates(db: Queryable): Promise<IdleCandidate[]> {
  const { rows } = await db.query(
    `select s.id, s.name, s.project_id as "projectId", s.owner_id as "ownerId", s.generation::float8 as generation,
            p.idle_timeout_seconds as "timeoutSeconds", s.last_active_at as "lastActiveAt",
            (select st->>'endedAt' from jsonb_array_elements(s.stages) st where st->>'name' = 'ready') as "readyAt",
            exists (select 1 from runs r where r.sandbox_id = s.id and r.${ACTIVE_RUN}) as "runActive",
            (select max(r.ended_at) from runs r where r.sandbox_id = s.id) as "lastRunEndedAt"
       from sandboxes s join projects p on p.id = s.project_id
      where s.phase = 'running' and s.desired = 'running'
      order by s.seq`,
  );
  return rows as IdleCandidate[];
}

/**
 * Stops a sandbox for idleness: desired stopped (a new generation, like a user's stop), marked
 * so requests wake it. Only while nothing changed since it was judged idle (same generation,
 * still running) and no agent run is waiting for it; null otherwise.
 */
export async function stopForIdle(tx: Queryable, id: string, generation: number): Promise<SandboxRow | null> {
  const { rowCount } = await tx.query(
    `update sandboxes set desired = 'stopped', generation = generation + 1, updated_at = now(), attempts = 0, next_attempt_at = null,
            idle_state = 'stopped'
      where id = $1 and generation = $2 and desired = 'running' and phase = 'running'
        and not exists (select 1 from runs r where r.sandbox_id = $1 and r.${ACTIVE_RUN})`,
    [id, generation],
  );
  return rowCount ? getSandbox(tx, id) : null;
}

/** The sandbox, locked for the transaction (the wake decides on it). */
export async function lockSandbox(tx: Queryable, id: string): Promise<SandboxRow | null> {
  await tx.query(`select 1 from sandboxes where id = $1 for update`, [id]);
  return getSandbox(tx, id);
}

/** Asks a sandbox stopped for idleness back: desired running, a new generation; null when it was not stopped for idleness. */
export async function wakeFromIdle(tx: Queryable, id: string): Promise<SandboxRow | null> {
  const { rowCount } = await tx.query(
    `update sandboxes set desired = 'running', generation = generation + 1, updated_at = now(), attempts = 0, next_attempt_at = null,
            idle_state = 'waking'
      where id = $1 and desired = 'stopped' and idle_state = 'stopped'`,
    [id],
  );
  return rowCount ? getSandbox(tx, id) : null;
}

/** A woken sandbox that is running again is just running. */
export async function clearWaking(db: Queryable, id: string): Promise<void> {
  await db.query(`update sandboxes set idle_state = null where id = $1 and idle_state = 'waking' and phase = 'running' and desired = 'running'`, [id]);
}

/** Writes down when sandboxes were last active (never backwards). */
export async function recordActivity(db: Queryable, entries: { id: string; at: Date }[]): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `update sandboxes s set last_active_at = greatest(s.last_active_at, a.at)
       from unnest($1::text[], $2::timestamptz[]) as a(id, at) where s.id = a.id`,
    [entries.map((e) => e.id), entries.map((e) => e.at)],
  );
}
