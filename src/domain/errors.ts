// The one error hierarchy of Outpost. Every failure a user can see carries a stable
// UPPER_SNAKE code from the registry (src/domain/error-registry.ts: status, hint, whether
// to retry); the API turns it into `{ error: { code, message, hint, retryable, details,
// requestId } }` with the code's status, and the CLI prints the message and the hint and
// exits 1.
import { ERRORS, type ErrorCode, type ErrorStatus } from "./error-registry.ts";

export type { ErrorCode } from "./error-registry.ts";

/** Each code's HTTP status, read from the registry. */
export const ERROR_STATUS = Object.fromEntries(Object.entries(ERRORS).map(([code, spec]) => [code, spec.status])) as {
  readonly [C in ErrorCode]: (typeof ERRORS)[C]["status"];
};

/** Root of every error Outpost raises on purpose. `details` must never hold a secret. */
export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  /** A one-line fix for this very failure; shown instead of the registry's (more general) hint. */
  readonly fix?: string;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; fix?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "OutpostError";
    this.code = code;
    this.details = options.details ?? {};
    this.fix = options.fix;
  }

  get status(): ErrorStatus {
    return ERRORS[this.code].status;
  }
}

export const isOutpostError = (error: unknown): error is OutpostError => error instanceof OutpostError;

/** Shorthand for the many "not found or not yours" answers. */
export function notFound(kind: "project" | "sandbox" | "process", idOrName: string): OutpostError {
  const code = ({ project: "PROJECT_NOT_FOUND", sandbox: "SANDBOX_NOT_FOUND", process: "PROCESS_NOT_FOUND" } as const)[kind];
  return new OutpostError(code, `No ${kind} '${idOrName}' (it does not exist, or it is not yours).`, { details: { [kind]: idOrName } });
}

/** A fault at start-up that the user fixes with one command; printed without a stack. */
export class StartupError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
    this.name = "StartupError";
  }
}
