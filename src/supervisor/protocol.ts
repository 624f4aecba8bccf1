// Supervisor protocol v1: the wire types and constants shared by the in-sandbox daemon
// (src/supervisor/daemon) and the control plane's client (src/supervisor/client.ts).
// Types and constants only: no runtime dependencies, so both sides can import it freely
// and the daemon's bundle stays small. docs/supervisor-protocol.md is the prose twin of
// this file; change both together.

/** Bumped only for incompatible changes; the client refuses any other value. */
export const PROTOCOL_VERSION = 1;
/** Carried by every response of the daemon, errors included. */
export const PROTOCOL_HEADER = "x-outpost-supervisor-protocol";
/** JSON request bodies above this are refused with 413 PAYLOAD_TOO_LARGE. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

/** The only signals a client may send to a background process. */
export const ALLOWED_SIGNALS = ["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"] as const;
export type AllowedSignal = (typeof ALLOWED_SIGNALS)[number];

/** `prc_` followed by 12 characters of [a-z0-9]. */
export const PROCESS_ID_PATTERN = /^prc_[a-z0-9]{12}$/;

/** Error codes the daemon answers with, and their HTTP status. */
export const SUPERVISOR_ERROR_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  ROUTE_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PROCESS_NOT_RUNNING: 409,
  PAYLOAD_TOO_LARGE: 413,
  COMMAND_NOT_FOUND: 422,
  COMMAND_NOT_EXECUTABLE: 422,
  CWD_NOT_FOUND: 422,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const satisfies Record<string, number>;
export type SupervisorErrorCode = keyof typeof SUPERVISOR_ERROR_STATUS;

export interface ErrorBody {
  error: { code: string; message: string };
}

// ---- GET /v1/health

export interface HealthResponse {
  protocol: number;
  supervisorVersion: string;
  pid: number;
  uptimeMs: number;
}

// ---- POST /v1/exec

/** A string runs through `sh -c`; an array is argv (no shell). */
export type Command = string | string[];

export interface ExecRequest {
  command: Command;
  /** Relative paths are resolved under the workspace; default: the workspace. */
  cwd?: string;
  /** Added to (and overriding) the supervisor's own environment. */
  env?: Record<string, string>;
  /** On expiry the whole process group is killed (SIGKILL) and `timedOut` is true. */
  timeoutMs?: number;
  /** Written to the process's stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string;
}

export interface ExecStartedEvent {
  type: "started";
  pid: number;
}
export interface ExecOutputEvent {
  type: "stdout" | "stderr";
  /** Base64 of the raw bytes (output need not be UTF-8 nor split on characters). */
  data: string;
}
export interface ExecExitEvent {
  type: "exit";
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number;
}
/** One NDJSON line of an exec response: started, then output, then exactly one exit. */
export type ExecEvent = ExecStartedEvent | ExecOutputEvent | ExecExitEvent;

// ---- background processes

export interface StartProcessRequest {
  command: Command;
  cwd?: string;
  env?: Record<string, string>;
  /** A label for people (1-100 characters); not unique. */
  name?: string;
}

export type ProcessStatus = "running" | "exited";

export interface Process {
  id: string;
  name?: string;
  command: Command;
  /** Absolute, as resolved by the daemon. */
  cwd: string;
  pid: number;
  status: ProcessStatus;
  exitCode: number | null;
  signal: string | null;
  startedAt: string;
  endedAt: string | null;
}

export interface ProcessList {
  items: Process[];
}

export interface SignalProcessRequest {
  signal: AllowedSignal;
}

/** "system" records come from the daemon itself (e.g. the log cap notice). */
export type LogStream = "stdout" | "stderr" | "system";

/** One journaled chunk of output; `seq` is monotonic from 1 per process. */
export interface LogRecord {
  seq: number;
  stream: LogStream;
  data: string;
  ts: string;
}

/** Last line of a logs response once the process has exited and every record was sent. */
export interface LogExitLine {
  type: "exit";
  exitCode: number | null;
  signal: string | null;
  endedAt: string | null;
}

/** Last line of a logs response without follow while the process still runs. */
export interface LogEndLine {
  type: "end";
}

export type LogLine = LogRecord | LogExitLine | LogEndLine;

/** Text of the system record appended once when a process's log reaches its cap. */
export const LOG_TRUNCATED_MESSAGE = "log truncated at cap";
