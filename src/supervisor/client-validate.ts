// Checks for what the supervisor sends back, with the protocol's schemas
// (protocol-schemas.ts). The supervisor runs inside the sandbox, so its answers are
// untrusted input: each check returns a fresh value with every field bounded and unknown
// fields dropped, or null when the answer does not fit (the client then raises
// SUPERVISOR_BAD_RESPONSE). Never the input object itself, so nothing unchecked rides along.
import type * as z from "zod/mini";
import {
  type ErrorBody,
  type ExecEvent,
  errorBodySchema,
  execEventSchema,
  type HealthResponse,
  healthResponseSchema,
  type LogLine,
  logLineSchema,
  type Process,
  type ProcessList,
  processListSchema,
  processSchema,
} from "./protocol-schemas.ts";

function check<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> | null {
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

export const asHealth = (value: unknown): HealthResponse | null => check(healthResponseSchema, value);

export const asProcess = (value: unknown): Process | null => check(processSchema, value);

/** `{ items: Process[] }` with at most MAX_PROCESS_LIST_ITEMS items, each checked like asProcess. */
export const asProcessList = (value: unknown): ProcessList | null => check(processListSchema, value);

export const asExecEvent = (value: unknown): ExecEvent | null => check(execEventSchema, value);

export const asLogLine = (value: unknown): LogLine | null => check(logLineSchema, value);

/**
 * The `error` of an error answer (`{ "error": { "code", "message" } }`), or null when the
 * body is not one. `code` is UPPER_SNAKE (at most 64 characters); `message` is cut to
 * MAX_ERROR_MESSAGE_CHARS with a trailing "…", its control characters replaced, so it can
 * go into an API answer or a log line as it is.
 */
export function asErrorBody(value: unknown): ErrorBody["error"] | null {
  return check(errorBodySchema, value)?.error ?? null;
}
