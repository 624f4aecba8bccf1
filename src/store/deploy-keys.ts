// A project's SSH deploy key (migrations/0011): one per project, its private half sealed
// (crypto/secrets.ts, context `deploy_key:<projectId>`); and the host keys pinned for the
// project's repository, kept in projects.git.knownHosts.
import type { Queryable } from "./database.ts";

export interface DeployKeyRow {
  projectId: string;
  publicKey: string;
  fingerprint: string;
  privateKeyEnc: string;
  createdAt: Date;
}

const COLUMNS = `project_id as "projectId", public_key as "publicKey", fingerprint, private_key_enc as "privateKeyEnc", created_at as "createdAt"`;

export async function findDeployKey(db: Queryable, projectId: string): Promise<DeployKeyRow | null> {
  const { rows } = await db.query(`select ${COLUMNS} from project_deploy_keys where project_id = $1`, [projectId]);
  return (rows[0] as DeployKeyRow | undefined) ?? null;
}

/** Creates the project's key, or replaces it (a rotation: the old key stops working at once). */
export async function putDeployKey(db: Queryable, key: Omit<DeployKeyRow, "createdAt">): Promise<DeployKeyRow> {
  const { rows } = await db.query(
    `insert into project_deploy_keys (project_id, public_key, fingerprint, private_key_enc) values ($1, $2, $3, $4)
     on conflict (project_id) do update set public_key = excluded.public_key, fingerprint = excluded.fingerprint,
       private_key_enc = excluded.private_key_enc, created_at = now()
     returning ${COLUMNS}`,
    [key.projectId, key.publicKey, key.fingerprint, key.privateKeyEnc],
  );
  return rows[0] as DeployKeyRow;
}

/** The pinned host keys (known_hosts lines), or null when none are. */
export async function findKnownHosts(db: Queryable, projectId: string): Promise<string | null> {
  const { rows } = await db.query(`select git->>'knownHosts' as "knownHosts" from projects where id = $1`, [projectId]);
  return (rows[0] as { knownHosts: string | null } | undefined)?.knownHosts ?? null;
}

/** Pins host keys (null: unpins), leaving the project's other git settings as they are. */
export async function setKnownHosts(db: Queryable, projectId: string, knownHosts: string | null): Promise<void> {
  await db.query(
    knownHosts === null
      ? `update projects set git = git - 'knownHosts', updated_at = now() where id = $1`
      : `update projects set git = jsonb_set(git, '{knownHosts}', to_jsonb($2::text)), updated_at = now() where id = $1`,
    knownHosts === null ? [projectId] : [projectId, knownHosts],
  );
}
