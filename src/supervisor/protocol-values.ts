// Values of the protocol that both its types (protocol.ts) and its schemas
// (protocol-schemas.ts) need: kept apart so neither imports the other in a circle.

/** The only signals a client may send to a background process. */
export const ALLOWED_SIGNALS = ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const;
export type AllowedSignal = (typeof ALLOWED_SIGNALS)[number];

/** `prc_` followed by 12 characters of [a-z0-9]. */
export const PROCESS_ID_PATTERN = /^prc_[a-z0-9]{12}$/;

/** `trm_` followed by 12 characters of [a-z0-9]: a terminal session in the supervisor. */
export const TERMINAL_ID_PATTERN = /^trm_[a-z0-9]{12}$/;
