// The one error hierarchy of Outpost. Every failure a user can see carries a stable
// UPPER_SNAKE code from ERROR_STATUS; the API turns it into
// `{ error: { code, message, details, requestId } }` with the status listed here, and the
// CLI prints the message and exits 1. Adding a code means adding its status: the
// Record type makes the compiler insist.

export const ERROR_STATUS = {
  // 400: the request itself is malformed
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_CURSOR: 400,
  // 401/403: who is asking
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  // 404: missing, or not yours (never say which)
  NOT_FOUND: 404,
  PROJECT_NOT_FOUND: 404,
  SANDBOX_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  // 409: conflicts with the current state
  PROJECT_NAME_TAKEN: 409,
  PROJECT_HAS_SANDBOXES: 409,
  SANDBOX_WRONG_PHASE: 409,
  // 413/415: size and media type
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  // 422: valid JSON that cannot be acted on
  UNPROCESSABLE: 422,
  COMMAND_NOT_FOUND: 422,
  // 429
  RATE_LIMITED: 429,
  // 500: our fault
  INTERNAL: 500,
  SECRET_DECRYPT_FAILED: 500,
  // 502/504: the sandbox's supervisor misbehaved or did not answer in time (that sandbox only)
  SUPERVISOR_BAD_RESPONSE: 502,
  PORT_NOT_LISTENING: 502,
  SUPERVISOR_TIMEOUT: 504,
  // 503: a dependency is down or missing on this host
  DATABASE_UNAVAILABLE: 503,
  NOT_READY: 503,
  SANDBOX_RUNTIME_UNAVAILABLE: 503,
  SUPERVISOR_UNAVAILABLE: 503,
  SUPERVISOR_PROTOCOL_MISMATCH: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Root of every error Outpost raises on purpose. `details` must never hold a secret. */
export class OutpostError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  /** A one-line fix the user can apply, shown by the CLI and in start-up failures. */
  readonly fix?: string;

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; fix?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "OutpostError";
    this.code = code;
    this.details = options.details ?? {};
    this.fix = options.fix;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
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
