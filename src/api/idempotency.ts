// The `Idempotency-Key` request header of create routes: optional; when sent it must be
// printable ASCII of 1–255 characters (a UUID is typical), else the request is a 400.
import type { FastifyRequest } from "fastify";
import { OutpostError } from "../domain/errors.ts";
import { IDEMPOTENCY_KEY_PATTERN } from "../domain/idempotency.ts";

export const IDEMPOTENCY_DESCRIPTION =
  "Send an `Idempotency-Key` header (1–255 printable ASCII characters, e.g. a UUID) to make a retry safe: the same key with the same request answers the resource the first request created (kept 24 hours); the same key with another request is a 422.";

export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers["idempotency-key"];
  if (raw === undefined) return undefined;
  const key = Array.isArray(raw) ? raw.join(",") : raw;
  if (!IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw new OutpostError("VALIDATION_FAILED", "The Idempotency-Key header must be 1–255 printable ASCII characters without spaces.", {
      details: { issues: [{ path: "headers.idempotency-key", message: "must match [!-~]{1,255}" }] },
    });
  }
  return key;
}
