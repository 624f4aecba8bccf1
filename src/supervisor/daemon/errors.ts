// The daemon's one error type: a stable UPPER_SNAKE code (with its HTTP status from
// SUPERVISOR_ERROR_STATUS) and a message safe to show a user. Anything else thrown by a
// handler is a bug and is answered as 500 INTERNAL without details.
import { SUPERVISOR_ERROR_STATUS, type SupervisorErrorCode } from "../protocol.ts";

export class SupervisorError extends Error {
  constructor(
    readonly code: SupervisorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "SupervisorError";
  }

  get status(): number {
    return SUPERVISOR_ERROR_STATUS[this.code];
  }
}

export const invalid = (message: string): SupervisorError => new SupervisorError("INVALID_REQUEST", message);
