// Idempotency keys on creates (pure): what a valid key looks like, and the fingerprint of a
// request so that reusing a key for a different request is refused rather than answered
// with someone else's result.
import { createHash } from "node:crypto";

/** Printable ASCII without spaces, like the UUIDs and ULIDs clients usually send. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** How long a key is remembered. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

export type IdempotentScope = "project.create" | "sandbox.create";

export interface IdempotentRequest {
  key: string;
  scope: IdempotentScope;
  /** The create's target and body; any difference makes it another request. */
  fingerprint: Buffer;
}

/** sha256 over the scope and a canonical JSON of the parts (object keys sorted). */
export function fingerprint(scope: IdempotentScope, ...parts: unknown[]): Buffer {
  return createHash("sha256").update(scope).update("\0").update(canonicalJson(parts)).digest();
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}
