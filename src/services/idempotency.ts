// The shared step of idempotent creates: claim the key in the creating transaction, or
// learn which resource an earlier request with the same key created.
import { OutpostError } from "../domain/errors.ts";
import type { IdempotentRequest } from "../domain/idempotency.ts";
import type { Queryable } from "../store/database.ts";
import { claimKey } from "../store/idempotency.ts";

/**
 * Null when this request may create `resourceId`; the earlier resource's id when the key
 * was used before for the same request. The same key with another request is refused.
 */
export async function replayOf(tx: Queryable, ownerId: string, request: IdempotentRequest, resourceId: string): Promise<string | null> {
  const claim = await claimKey(tx, ownerId, request, resourceId);
  if (claim.fresh) return null;
  if (!claim.sameRequest) {
    throw new OutpostError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was already used for a different request.", {
      details: { idempotencyKey: request.key },
    });
  }
  return claim.resourceId;
}
