// Idempotency keys (migrations/0005): claimed inside the creating transaction.
import { IDEMPOTENCY_KEY_TTL_HOURS, type IdempotentRequest } from "../domain/idempotency.ts";
import type { Queryable } from "./database.ts";

export type Claim = { fresh: true } | { fresh: false; resourceId: string; sameRequest: boolean };

/**
 * Claims `key` for a resource about to be created with `resourceId`. A concurrent claim of
 * the same key waits on the primary key until the first transaction ends, then sees its
 * row: two requests with one key never both create. Expired keys of the owner go first.
 */
export async function claimKey(tx: Queryable, ownerId: string, request: IdempotentRequest, resourceId: string): Promise<Claim> {
  await tx.query(`delete from idempotency_keys where owner_id = $1 and created_at < now() - make_interval(hours => $2)`, [ownerId, IDEMPOTENCY_KEY_TTL_HOURS]);
  // Twice at most: the row we conflicted with may expire (or roll back) before we read it.
  for (let attempt = 0; attempt < 2; attempt++) {
    const inserted = await tx.query(
      `insert into idempotency_keys (owner_id, key, scope, request_hash, resource_id) values ($1, $2, $3, $4, $5)
       on conflict (owner_id, key) do nothing`,
      [ownerId, request.key, request.scope, request.fingerprint, resourceId],
    );
    if (inserted.rowCount === 1) return { fresh: true };
    const { rows } = await tx.query<{ resource_id: string; scope: string; request_hash: Buffer }>(
      `select resource_id, scope, request_hash from idempotency_keys where owner_id = $1 and key = $2`,
      [ownerId, request.key],
    );
    const row = rows[0];
    if (row) return { fresh: false, resourceId: row.resource_id, sameRequest: row.scope === request.scope && row.request_hash.equals(request.fingerprint) };
  }
  throw new Error(`could not claim idempotency key ${request.key}`);
}
