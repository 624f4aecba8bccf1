// Checks for what the supervisor sends back, with the protocol's schemas
// (protocol-schemas.ts). The supervisor runs inside the sandbox, so its answers are
// untrusted input: each check returns a fresh value with every field bounded and unknown
// fields dropped, or null when the answer does not fit (the client then raises
// SUPERVISOR_BAD_RESPONSE). Never the input object itself, so nothing unchecked rides along.
import type * as z from "zod/mini";
import {
  type ArchiveSummary,
  archiveSummarySchema,
  type DeletePathResult,
  deletePathResultSchema,
  type ErrorBody,
  type ExecEvent,
  errorBodySchema,
  execEventSchema,
  type FileContentHead,
  type FileInfo,
  fileContentHeadSchema,
  fileInfoSchema,
  type HealthResponse,
  healthResponseSchema,
  type LogLine,
  logLineSchema,
  type PortList,
  type Process,
  type ProcessInputResult,
  type ProcessList,
  portListSchema,
  processInputResultSchema,
  processListSchema,
  processSchema,
  type Terminal,
  type TerminalExit,
  type TerminalList,
  type TerminalScreen,
  terminalExitSchema,
  terminalListSchema,
  terminalSchema,
  terminalScreenSchema,
  type WatchLine,
  type WriteFileResult,
  watchLineSchema,
  writeFileResultSchema,
} from "./protocol-schemas.ts";

function check<S extends z.ZodMiniType>(schema: S, value: unknown): z.output<S> | null {
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

export const asHealth = (value: unknown): HealthResponse | null => check(healthResponseSchema, value);

export const asProcess = (value: unknown): Process | null => check(processSchema, value);

/** `{ items: Process[] }` with at most MAX_PROCESS_LIST_ITEMS items, each checked like asProcess. */
export const asProcessList = (value: unknown): ProcessList | null => check(processListSchema, value);

/** `{ written }`: the bytes POST /v1/processes/{id}/input handed to the process. */
export const asProcessInputResult = (value: unknown): ProcessInputResult | null => check(processInputResultSchema, value);

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

/** `{ items: [{ port, addresses, process }] }`, at most MAX_PORT_ITEMS, process names made safe. */
export const asPortList = (value: unknown): PortList | null => check(portListSchema, value);

/** A terminal session (`{ id, pid, command, cwd, cols, rows, clients, createdAt }`). */
export const asTerminal = (value: unknown): Terminal | null => check(terminalSchema, value);

/** `{ items: Terminal[] }`, at most MAX_TERMINALS. */
export const asTerminalList = (value: unknown): TerminalList | null => check(terminalListSchema, value);

/** How a killed terminal's shell ended. */
export const asTerminalExit = (value: unknown): TerminalExit | null => check(terminalExitSchema, value);

/** The `{ cols, rows }` of a terminal attach's `screen` frame. */
export const asTerminalScreen = (value: unknown): TerminalScreen | null => check(terminalScreenSchema, value);

// ---- files: every answer of the file routes, and the headers of a file's bytes

export const asFileInfo = (value: unknown): FileInfo | null => check(fileInfoSchema, value);

export const asWriteFileResult = (value: unknown): WriteFileResult | null => check(writeFileResultSchema, value);

export const asDeletePathResult = (value: unknown): DeletePathResult | null => check(deletePathResultSchema, value);

export const asArchiveSummary = (value: unknown): ArchiveSummary | null => check(archiveSummarySchema, value);

export const asWatchLine = (value: unknown): WatchLine | null => check(watchLineSchema, value);

/** The numbers of a file read's headers; null unless each is there and in bounds. */
export function asFileContentHead(headers: Record<string, string | undefined>): FileContentHead | null {
  const integer = (text: string | undefined) => (text !== undefined && /^\d{1,16}$/.test(text) ? Number(text) : undefined);
  const head = check(fileContentHeadSchema, {
    length: integer(headers["content-length"]),
    size: integer(headers["x-outpost-file-size"]),
    mtime: headers["x-outpost-file-mtime"],
    mode: integer(headers["x-outpost-file-mode"]),
  });
  return head && head.length <= head.size ? head : null;
}
