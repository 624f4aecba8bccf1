// The egress record (migrations/0008): one row per connection a sandbox asked the proxy
// for. Rows are written when the decision is made, so a control plane killed mid-download
// still has the decision; bytes and duration are filled in when the connection ends.
import type { EgressPolicy } from "../domain/egress-policy.ts";
import type { Queryable } from "./database.ts";

export interface EgressRecord {
  projectId: string;
  sandboxId: string;
  host: string;
  port: number;
  method: string;
  allowed: boolean;
  rule: string;
  reason: string | null;
  address: string | null;
  startedAt: Date;
}

export interface EgressRow extends EgressRecord {
  id: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
}

export interface EgressEnd {
  id: number;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  address: string | null;
}

/** Inserts decisions in one statement; ids in the order given. */
export async function insertEgressRecords(db: Queryable, records: readonly EgressRecord[]): Promise<number[]> {
  if (records.length === 0) return [];
  const values: unknown[] = [];
  const tuples = records.map((r) => {
    values.push(r.projectId, r.sandboxId, r.host, r.port, r.method, r.allowed, r.rule, r.reason, r.address, r.startedAt);
    const base = values.length - 10;
    return `(${Array.from({ length: 10 }, (_, i) => `$${base + i + 1}`).join(", ")})`;
  });
  const { rows } = await db.query(
    `insert into egress_log (project_id, sandbox_id, host, port, method, allowed, rule, reason, address, started_at)
     values ${tuples.join(", ")} returning id`,
    values,
  );
  return rows.map((row) => Number((row as { id: string | number }).id));
}

/** Fills in what each ended connection carried. */
export async function finishEgressRecords(db: Queryable, ends: readonly EgressEnd[]): Promise<void> {
  if (ends.length === 0) return;
  await db.query(
    `update egress_log e set bytes_up = v.up, bytes_down = v.down, duration_ms = v.ms, address = coalesce(v.address, e.address)
       from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::int[], $5::text[]) as v(id, up, down, ms, address)
      where e.id = v.id`,
    [ends.map((e) => e.id), ends.map((e) => e.bytesUp), ends.map((e) => e.bytesDown), ends.map((e) => e.durationMs), ends.map((e) => e.address)],
  );
}

export async function listEgress(db: Queryable, projectId: string, afterId: number, limit: number): Promise<EgressRow[]> {
  const { rows } = await db.query(
    `select id::float8 as id, project_id as "projectId", sandbox_id as "sandboxId", host, port, method, allowed, rule, reason, address,
            bytes_up::float8 as "bytesUp", bytes_down::float8 as "bytesDown", started_at as "startedAt", duration_ms as "durationMs"
       from egress_log where project_id = $1 and id > $2 order by id limit $3`,
    [projectId, afterId, limit],
  );
  return rows as EgressRow[];
}

export async function pruneEgress(db: Queryable, before: Date): Promise<number> {
  const { rowCount } = await db.query("delete from egress_log where started_at < $1", [before]);
  return rowCount ?? 0;
}

/** What the proxy needs to know of a sandbox to decide: its project and that project's policy. */
export interface SandboxEgressRow {
  sandboxId: string;
  sandboxName: string;
  projectId: string;
  projectName: string;
  ownerId: string;
  egress: EgressPolicy;
  tokenBudget: number | null;
  /** The project's repository (its endpoint is implicitly allowed) and git settings (projects.git). */
  repoUrl: string | null;
  git: { knownHosts?: string; tokenVariable?: string; identity?: { name: string; email: string } };
  /** The project has an SSH deploy key: SSH goes out only to its repository. */
  hasDeployKey: boolean;
}

export async function findSandboxEgress(db: Queryable, sandboxId: string): Promise<SandboxEgressRow | null> {
  const { rows } = await db.query(
    `select s.id as "sandboxId", s.name as "sandboxName", p.id as "projectId", p.name as "projectName", p.owner_id as "ownerId",
            p.egress, p.token_budget::float8 as "tokenBudget", p.repo_url as "repoUrl", p.git,
            exists (select 1 from project_deploy_keys k where k.project_id = p.id) as "hasDeployKey"
       from sandboxes s join projects p on p.id = s.project_id
      where s.id = $1 and s.phase <> 'deleted'`,
    [sandboxId],
  );
  return (rows[0] as SandboxEgressRow | undefined) ?? null;
}

/** The id after which the project's last `count` records follow (0: fewer exist). */
export async function egressIdBeforeLast(db: Queryable, projectId: string, count: number): Promise<number> {
  const { rows } = await db.query("select id::float8 as id from egress_log where project_id = $1 order by id desc offset $2 limit 1", [projectId, count]);
  return (rows[0] as { id: number } | undefined)?.id ?? 0;
}
