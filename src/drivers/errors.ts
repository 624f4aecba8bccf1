// The one error type drivers throw. Codes are stable UPPER_SNAKE strings, each registered
// under the same name in the control plane's error registry (src/domain/error-registry.ts).
// Messages are for people and end with the fix when there is one; `details` never holds a
// secret.

/** Every code a driver throws, as a list so tests can check each is registered (src/domain/error-registry.ts). */
export const DRIVER_ERROR_CODES = [
  /** The spec is malformed (bad id, name, uid, limits, path too long). */
  "INVALID_SANDBOX_SPEC",
  /** Every uid in the reserved range is taken. */
  "HOST_UIDS_EXHAUSTED",
  /** bubblewrap is not installed. */
  "BWRAP_MISSING",
  /** The kernel (or AppArmor, or a container) refuses unprivileged user namespaces. */
  "USERNS_DENIED",
  /** bwrap is there and namespaces are allowed, but a trial sandbox still failed. */
  "BWRAP_FAILED",
  /** The sandbox's uid cannot reach a folder or file it needs (a parent folder is closed). */
  "SANDBOX_PATH_UNREACHABLE",
  /** Cgroups looked usable but creating or writing one failed. */
  "CGROUP_SETUP_FAILED",
  /** bwrap or the supervisor exited while starting; details.logTail says why. */
  "SANDBOX_START_FAILED",
  /** The sandbox runs but its supervisor did not connect (and answer) in time. */
  "SUPERVISOR_NOT_READY",
  /** Processes of the sandbox survived SIGKILL (should not happen; the kernel is stuck). */
  "SANDBOX_STOP_FAILED",
] as const;

export type DriverErrorCode = (typeof DRIVER_ERROR_CODES)[number];

export class DriverError extends Error {
  readonly code: DriverErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: DriverErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "DriverError";
    this.code = code;
    this.details = options.details;
  }
}

export const isDriverError = (error: unknown, code?: DriverErrorCode): error is DriverError =>
  error instanceof DriverError && (code === undefined || error.code === code);
