// Checkpoint rows (git_checkpoints, migrations/0011): which commit in the host's checkpoint
// repository is which turn of which sandbox. A row is written only once the host repository
// has the commit, so every row can be restored.
import type { CheckpointReason } from "../domain/git/checkpoints.ts";
import type { Queryable } from "./database.ts";

export interface CheckpointRow {
  id: string;
  seq: number;
  sandboxId: string;
  projectId: string;
  conversationId: string | null;
  runId: string | null;
  commitSha: string;
  headSha: string | null;
  branch: string | null;
  reason: CheckpointReason;
  createdAt: Date;
}

const COLUMNS = `id, seq, sandbox_id as "sandboxId", project_id as "projectId", conversation_id as "conversationId", run_id as "runId",
  commit_sha as "commitSha", head_sha as "headSha", branch, reason, created_at as "createdAt"`;

export async function insertCheckpoint(db: Queryable, row: Omit<CheckpointRow, "seq" | "createdAt">): Promise<CheckpointRow> {
  const { rows } = await db.query(
    `insert into git_checkpoints (id, sandbox_id, project_id, conversation_id, run_id, commit_sha, head_sha, branch, reason)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ${COLUMNS}`,
    [row.id, row.sandboxId, row.projectId, row.conversationId, row.runId, row.commitSha, row.headSha, row.branch, row.reason],
  );
  return rows[0] as CheckpointRow;
}

/** A sandbox's checkpoints, newest first; `beforeSeq` pages further back. */
export async function listCheckpoints(db: Queryable, sandboxId: string, options: { limit?: number; beforeSeq?: number } = {}): Promise<CheckpointRow[]> {
  const { rows } = await db.query(
    `select ${COLUMNS} from git_checkpoints
      where sandbox_id = $1 and ($2::bigint is null or seq < $2)
      order by seq desc limit $3`,
    [sandboxId, options.beforeSeq ?? null, options.limit ?? 100],
  );
  return rows as CheckpointRow[];
}

export async function checkpointById(db: Queryable, sandboxId: string, id: string): Promise<CheckpointRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from git_checkpoints where sandbox_id = $1 and id = $2`, [sandboxId, id]);
  return (rows[0] as CheckpointRow | undefined) ?? null;
}

/** The newest checkpoint of a sandbox: the next bundle needs only what came after it. */
export async function lastCheckpoint(db: Queryable, sandboxId: string): Promise<CheckpointRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from git_checkpoints where sandbox_id = $1 order by seq desc limit 1`, [sandboxId]);
  return (rows[0] as CheckpointRow | undefined) ?? null;
}
