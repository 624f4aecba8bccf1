// The supervisor protocol: the wire types and constants shared by the in-sandbox daemon
// (src/supervisor/daemon) and the control plane's client (src/supervisor/client.ts).
// Types and constants only: no runtime dependencies, so both sides can import it freely.
// The wire types are inferred from the schemas in protocol-schemas.ts (the one source for
// shapes and bounds) and re-exported here as types only, so importing this file loads no
// schema library. docs/supervisor-protocol.md is the prose twin; change them together.

/** Bumped only for incompatible changes; the client refuses any other value. */
export const PROTOCOL_VERSION = 2;
/** Carried by every response of the daemon, errors included. */
export const PROTOCOL_HEADER = "x-outpost-supervisor-protocol";
/** JSON request bodies above this are refused with 413 PAYLOAD_TOO_LARGE. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
export const NDJSON_CONTENT_TYPE = "application/x-ndjson";

export { ALLOWED_SIGNALS, type AllowedSignal, PROCESS_ID_PATTERN, TERMINAL_ID_PATTERN } from "./protocol-values.ts";

/** Error codes the daemon answers with, and their HTTP status. */
export const SUPERVISOR_ERROR_STATUS = {
  INVALID_REQUEST: 400,
  INVALID_JSON: 400,
  ROUTE_NOT_FOUND: 404,
  PROCESS_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PROCESS_NOT_RUNNING: 409,
  /** Input for a process whose stdin is not a pipe, or was closed (eof, or the process closed it). */
  STDIN_CLOSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  COMMAND_NOT_FOUND: 422,
  COMMAND_NOT_EXECUTABLE: 422,
  /** A command asked for root in a sandbox that has none (no image: the host's /usr). */
  ROOT_UNAVAILABLE: 409,
  CWD_NOT_FOUND: 422,
  PORT_NOT_LISTENING: 502,
  PTY_UNAVAILABLE: 501,
  TERMINAL_NOT_FOUND: 404,
  TERMINAL_LIMIT_REACHED: 409,
  // files (daemon/files/): paths are confined to the workspace and the home folder
  PATH_OUTSIDE_SANDBOX: 403,
  FILE_PERMISSION_DENIED: 403,
  PATH_NOT_FOUND: 404,
  NOT_A_DIRECTORY: 409,
  NOT_A_FILE: 409,
  PATH_EXISTS: 409,
  DIRECTORY_NOT_EMPTY: 409,
  FILE_TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  MOVE_ACROSS_FILESYSTEMS: 422,
  INVALID_ARCHIVE: 400,
  RATE_LIMITED: 429,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
} as const satisfies Record<string, number>;
export type SupervisorErrorCode = keyof typeof SUPERVISOR_ERROR_STATUS;

export type {
  Command,
  CreateTerminalRequest,
  ErrorBody,
  ExecEvent,
  ExecExitEvent,
  ExecOutputEvent,
  ExecRequest,
  ExecStartedEvent,
  HealthResponse,
  LogEndLine,
  LogExitLine,
  LogLine,
  LogRecord,
  LogStream,
  PortList,
  Process,
  ProcessInputRequest,
  ProcessInputResult,
  ProcessList,
  ProcessStatus,
  SignalProcessRequest,
  StartProcessRequest,
  Terminal,
  TerminalExit,
  TerminalList,
  TerminalScreen,
} from "./protocol-schemas.ts";

/** Text of the system record appended once when a process's log reaches its cap. */
export const LOG_TRUNCATED_MESSAGE = "log truncated at cap";

export type {
  ArchiveSummary,
  DeletePathRequest,
  DeletePathResult,
  FileContentHead,
  FileEntry,
  FileInfo,
  FileType,
  MakeDirectoryRequest,
  MovePathRequest,
  WatchChange,
  WatchLine,
  WriteFileResult,
} from "./protocol-schemas.ts";
