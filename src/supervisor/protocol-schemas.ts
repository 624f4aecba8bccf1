// The supervisor protocol as zod schemas: the one source for what a request to the daemon
// and an answer from it may look like (docs/supervisor-protocol.md is the prose twin).
// The daemon checks requests with them (daemon/validate.ts); the control plane checks
// every answer with them (client-validate.ts); protocol.ts re-exports the inferred types.
//
// The supervisor runs inside the sandbox's trust boundary (code in the sandbox can replace
// it), so an answer is untrusted input: every number, string and list has a bound, so
// nothing oversized or oddly shaped reaches the API, the database or the logs.
//
// Start-up cost: the daemon bundles this file, and its start is on the sandbox create
// path. Hence zod/mini rather than zod (esbuild keeps only what is used: the daemon's
// bundle grows by about 74 KB instead of about 130 KB), `import * as z` rather than `{ z }`
// (that object pulls in all of zod), and no schema is built at import: each set is built
// on first use (`z.lazy`), so the daemon pays for the request schemas at its first request
// (about 4 ms once) and never builds the answer schemas. Built eagerly, they cost every
// start about 11 ms; lazily, importing zod costs about 4 ms.
//
// Lengths are in UTF-16 code units (String.length), like every other limit in JavaScript.
import * as z from "zod/mini";
import { ALLOWED_SIGNALS, PROCESS_ID_PATTERN, TERMINAL_ID_PATTERN } from "./protocol-values.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

// ---- bounds (exported for tests and for people choosing limits elsewhere)

export const MAX_COMMAND_CHARS = 256 * KiB;
export const MAX_ARGV_ENTRIES = 4096;
export const MAX_ARG_CHARS = 128 * KiB;
export const MAX_CWD_CHARS = 4096;
export const MAX_ENV_VARS = 1000;
export const MAX_ENV_NAME_CHARS = 1024;
export const MAX_ENV_VALUE_CHARS = 256 * KiB;
/** The JSON body cap (1 MiB) bounds it anyway; stated so the schema says it too. */
export const MAX_STDIN_CHARS = MiB;
/** Node's timers cannot wait longer than this (about 24.8 days). */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
export const MAX_PROCESS_NAME_CHARS = 100;
/** PID_MAX_LIMIT on 64-bit Linux: no pid is ever larger. */
export const MAX_PID = 4_194_304;
/** Durations and uptimes beyond this are not a real supervisor's. */
export const MAX_DURATION_MS = 10 * 365.25 * 24 * 60 * 60 * 1000;
/** A `data` field (base64); one pipe read is at most 64 KiB, so this is generous. */
export const MAX_OUTPUT_DATA_CHARS = MiB;
export const MAX_PROCESS_LIST_ITEMS = 10_000;
/** POST /v1/processes/{id}/input: the decoded `data` of one call (more is 413 PAYLOAD_TOO_LARGE). */
export const MAX_PROCESS_INPUT_BYTES = MiB;
/** Base64 of MAX_PROCESS_INPUT_BYTES, plus room for the rest of the JSON: that route's body cap. */
export const MAX_PROCESS_INPUT_BODY_BYTES = Math.ceil(MAX_PROCESS_INPUT_BYTES / 3) * 4 + 4 * KiB;
/** A "lines" journal writes a longer line as pieces of this size, all but the last marked `more`. */
export const MAX_LOG_LINE_RECORD_BYTES = 512 * KiB;
/** Error messages from the supervisor are cut to this (with a trailing "…"), not refused. */
export const MAX_ERROR_MESSAGE_CHARS = 1000;
/** GET /v1/ports lists at most this many ports. */
export const MAX_PORT_ITEMS = 1024;
export const MAX_PORT_PROCESS_NAME_CHARS = 64;
/** Dotted IPv4, or IPv6 in its compressed lower-case form (with an IPv4 tail when mapped). */
const LISTEN_ADDRESS_PATTERN = /^[0-9a-f:.]{2,45}$/;
/** A terminal's columns and rows (what a screen can show; the PTY itself takes up to 65535). */
export const MAX_TERMINAL_SIZE = 1000;
/** Terminal sessions one supervisor keeps at once; more are refused (TERMINAL_LIMIT_REACHED). */
export const MAX_TERMINALS = 16;
/** Clients attached to one terminal at once. */
export const MAX_TERMINAL_CLIENTS = 8;
const MAX_TIMESTAMP_CHARS = 40;
const MAX_SUPERVISOR_VERSION_CHARS = 64;

/** Printable ASCII without spaces: it ends up in API answers and logs. */
const SUPERVISOR_VERSION_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${MAX_SUPERVISOR_VERSION_CHARS}}$`);
const SIGNAL_NAME_PATTERN = /^SIG[A-Z0-9+-]{1,12}$/;
const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;
/** Buffer#toString("base64") output: that alphabet, padded (the length is checked apart). */
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** Control characters (C0 but \t and \n, DEL, C1), bidi overrides and lone surrogates:
 * what could forge or garble a log line or a terminal, each replaced by U+FFFD. */
const UNSAFE_TEXT =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** An error message from the supervisor, made fit for an API answer or a log line: cut to
 * MAX_ERROR_MESSAGE_CHARS (the last one "…") before it is scanned, then made safe. */
export function boundErrorMessage(message: string): string {
  const cut = message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…` : message;
  return cut.replace(UNSAFE_TEXT, "\ufffd");
}

const isPlainRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Names from the peer end up in messages: long ones are shortened there. */
export const shortenForMessage = (text: string, max = 64) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

// ---- building blocks shared by requests and answers. Error texts are the end of a
// sentence that daemon/validate.ts starts with the field ("'cwd' must be …"); the client
// only needs pass or fail.

/** NUL cannot pass through execve; Node would throw a less helpful error later. */
const noNul = () => z.refine<string>((text) => !text.includes("\0"), "must not contain NUL characters.");

function boundedString(min: number, max: number) {
  const rule = `must be ${min} to ${max} characters long.`;
  return z.string("must be a string.").check(z.minLength(min, rule), z.maxLength(max, rule), noNul());
}

function buildSharedSchemas() {
  const commandString = z.string().check(
    // abort: the checks after it need not scan an oversized string.
    z.maxLength(MAX_COMMAND_CHARS, { error: `must be at most ${MAX_COMMAND_CHARS} characters long.`, abort: true }),
    z.refine((text: string) => text.trim() !== "", "must not be empty."),
    noNul(),
  );
  const commandArgv = z
    .array(z.string("must be a string.").check(z.maxLength(MAX_ARG_CHARS, `must be at most ${MAX_ARG_CHARS} characters long.`), noNul()))
    .check(
      z.minLength(1, "as an array needs at least the program."),
      z.maxLength(MAX_ARGV_ENTRIES, `may have at most ${MAX_ARGV_ENTRIES} entries.`),
      z.refine((argv: string[]) => argv[0] !== "", { error: "(the program) must not be empty.", path: [0] }),
    );
  return {
    /** A string runs through `sh -c`; an array is argv (no shell). */
    command: z.union([commandString, commandArgv], "must be a string (run by sh -c) or an array of strings (argv)."),
    cwd: boundedString(1, MAX_CWD_CHARS),
    /** A label for people; not unique. */
    processName: boundedString(1, MAX_PROCESS_NAME_CHARS),
  };
}

// ---- requests: strict (an unknown field is refused, so a typo is an error, not ignored)

/** The message for the body as a whole: not an object, or fields it should not have. */
function bodyError(allowed: string[]) {
  const error = (issue: { code?: string; keys?: string[] }): string => {
    if (issue.code !== "unrecognized_keys" || !issue.keys) return "The body must be a JSON object.";
    const keys = issue.keys;
    const names = keys.slice(0, 3).map((key) => `'${shortenForMessage(key)}'`);
    const more = keys.length > 3 ? ` and ${keys.length - 3} more` : "";
    return `Unknown field${keys.length > 1 ? "s" : ""} ${names.join(", ")}${more} (allowed: ${allowed.join(", ")}).`;
  };
  return { error };
}

function buildRequestSchemas() {
  const { command, cwd, processName } = shared();
  // One text for every way a name can be wrong; validate.ts adds which variable.
  const envNameRule = `names are 1 to ${MAX_ENV_NAME_CHARS} characters, without "=" or NUL`;
  const envName = z.string(envNameRule).check(
    z.minLength(1, envNameRule),
    z.maxLength(MAX_ENV_NAME_CHARS, envNameRule),
    z.refine((name: string) => !/[=\0]/.test(name), envNameRule),
  );
  const envValue = z.string("must be a string.").check(z.maxLength(MAX_ENV_VALUE_CHARS, `must be at most ${MAX_ENV_VALUE_CHARS} characters long.`), noNul());
  /** Added to (and overriding) the supervisor's own environment. */
  const env = z.pipe(
    // Checked on the raw object: the record below would silently drop a "__proto__" key (as
    // would any plain object), and counting first spares parsing a flood of variables.
    z
      .unknown()
      .check(
        z.refine((value) => !isPlainRecord(value) || Object.keys(value).length <= MAX_ENV_VARS, {
          error: `may have at most ${MAX_ENV_VARS} variables.`,
          abort: true,
        }),
        z.refine((value) => !isPlainRecord(value) || !Object.hasOwn(value, "__proto__"), 'cannot carry a variable named "__proto__".'),
      ),
    z.record(envName, envValue, "must be an object of strings."),
  );
  const timeoutRule = `must be an integer from 1 to ${MAX_TIMEOUT_MS}.`;
  /** Who runs it: the sandbox user (default) or root inside (image sandboxes only). */
  const user = z.optional(z.enum(["user", "root"], 'must be "user" or "root".'));

  const execShape = {
    command,
    /** Relative paths are resolved under the workspace; default: the workspace. */
    cwd: z.optional(cwd),
    env: z.optional(env),
    /** On expiry the whole process group is killed (SIGKILL) and `timedOut` is true. */
    timeoutMs: z.optional(z.int(timeoutRule).check(z.gte(1, timeoutRule), z.lte(MAX_TIMEOUT_MS, timeoutRule))),
    /** Written to the process's stdin, which is then closed; without it stdin is /dev/null. */
    stdin: z.optional(z.string("must be a string.").check(z.maxLength(MAX_STDIN_CHARS, `must be at most ${MAX_STDIN_CHARS} characters long.`))),
    user,
  };
  const startProcessShape = {
    command,
    cwd: z.optional(cwd),
    env: z.optional(env),
    name: z.optional(processName),
    user,
    /** "pipe": stdin stays open for POST /v1/processes/{id}/input; default "null" (/dev/null). */
    stdin: z.optional(z.enum(["null", "pipe"], 'must be "null" or "pipe".')),
    /** "lines": one stdout record per line (an agent's JSON events); default "chunks" (per read). */
    journal: z.optional(z.enum(["chunks", "lines"], 'must be "chunks" or "lines".')),
  };
  const processInputShape = {
    /** Base64; its decoded size is checked by the route (413 past MAX_PROCESS_INPUT_BYTES). */
    data: z.string("must be a string (base64).").check(
      z.regex(BASE64_PATTERN, "must be base64."),
      z.refine((text: string) => text.length % 4 === 0, "must be base64 (padded)."),
    ),
    /** Closes stdin after `data`. */
    eof: z.optional(z.boolean("must be true or false.")),
  };
  const signalShape = { signal: z.enum(ALLOWED_SIGNALS, `must be one of ${ALLOWED_SIGNALS.join(", ")}.`) };
  const sizeRule = `must be an integer from 1 to ${MAX_TERMINAL_SIZE}.`;
  const terminalSize = z.int(sizeRule).check(z.gte(1, sizeRule), z.lte(MAX_TERMINAL_SIZE, sizeRule));
  /** A terminal session runs the sandbox's login shell; what varies is its size, folder and env. */
  const createTerminalShape = { cols: terminalSize, rows: terminalSize, cwd: z.optional(cwd), env: z.optional(env), user };
  return {
    createTerminalRequest: z.strictObject(createTerminalShape, bodyError(Object.keys(createTerminalShape))),
    execRequest: z.strictObject(execShape, bodyError(Object.keys(execShape))),
    startProcessRequest: z.strictObject(startProcessShape, bodyError(Object.keys(startProcessShape))),
    signalProcessRequest: z.strictObject(signalShape, bodyError(Object.keys(signalShape))),
    processInputRequest: z.strictObject(processInputShape, bodyError(Object.keys(processInputShape))),
  };
}

// ---- answers: unknown fields are stripped (a newer supervisor may add optional ones)

function buildResponseSchemas() {
  const { command, cwd, processName } = shared();
  const pid = z.int().check(z.gte(1), z.lte(MAX_PID));
  /** Exit codes on Linux are one byte; null when a signal ended the process. */
  const exitCode = z.nullable(z.int().check(z.gte(0), z.lte(255)));
  const signal = z.nullable(z.string().check(z.maxLength(15), z.regex(SIGNAL_NAME_PATTERN)));
  /** ISO 8601 in UTC with a Z, as Date#toISOString writes it; strict: real dates only. */
  const timestamp = z.iso.datetime().check(z.maxLength(MAX_TIMESTAMP_CHARS));
  /** Base64 of the raw bytes (output need not be UTF-8 nor split on characters). */
  const data = z.string().check(
    z.maxLength(MAX_OUTPUT_DATA_CHARS, { abort: true }),
    z.regex(BASE64_PATTERN),
    z.refine((text: string) => text.length % 4 === 0),
  );

  const processStatus = z.enum(["running", "exited"]);
  const backgroundProcess = z.object({
    id: z.string().check(z.maxLength(16), z.regex(PROCESS_ID_PATTERN)),
    name: z.optional(processName),
    command,
    /** Absolute, as resolved by the daemon. */
    cwd,
    /** Only for a process started with stdin "pipe": "pipe" while it takes input, then "closed". */
    stdin: z.optional(z.enum(["pipe", "closed"])),
    pid,
    status: processStatus,
    exitCode,
    signal,
    startedAt: timestamp,
    endedAt: z.nullable(timestamp),
  });

  const execStartedEvent = z.object({ type: z.literal("started"), pid });
  const execOutputEvent = z.object({ type: z.enum(["stdout", "stderr"]), data });
  const execExitEvent = z.object({
    type: z.literal("exit"),
    exitCode,
    signal,
    timedOut: z.boolean(),
    durationMs: z.number().check(z.gte(0), z.lte(MAX_DURATION_MS)),
  });

  /** "system" records come from the daemon itself (e.g. the log cap notice). */
  const logStream = z.enum(["stdout", "stderr", "system"]);
  /** One journaled chunk of output; `seq` is monotonic from 1 per process. */
  const logRecord = z.object({
    seq: z.int().check(z.gte(1), z.lte(Number.MAX_SAFE_INTEGER)),
    stream: logStream,
    data,
    /** A "lines" journal's piece of an over-long line: the line goes on in the next record. */
    more: z.optional(z.boolean()),
    ts: timestamp,
  });
  const logExitLine = z.object({ type: z.literal("exit"), exitCode, signal, endedAt: z.nullable(timestamp) });
  const logEndLine = z.object({ type: z.literal("end") });
  // A record has no `type`. A line that claims some other type is not a record with a field
  // to strip but a line this client does not know: refused, not passed on as a record.
  const untypedLogRecord = z.pipe(z.unknown().check(z.refine((value) => !isPlainRecord(value) || !Object.hasOwn(value, "type"))), logRecord);

  const terminalSize = z.int().check(z.gte(1), z.lte(MAX_TERMINAL_SIZE));
  const terminalId = z.string().check(z.maxLength(16), z.regex(TERMINAL_ID_PATTERN));
  const terminal = z.object({
    id: terminalId,
    pid,
    /** The shell's argv, e.g. ["/bin/bash", "-l"]. */
    command: z.array(z.string().check(z.maxLength(MAX_CWD_CHARS))).check(z.minLength(1), z.maxLength(8)),
    cwd,
    cols: terminalSize,
    rows: terminalSize,
    /** Clients attached right now. */
    clients: z.int().check(z.gte(0), z.lte(MAX_TERMINAL_CLIENTS)),
    createdAt: timestamp,
  });

  return {
    terminal,
    terminalList: z.object({ items: z.array(terminal).check(z.maxLength(MAX_TERMINALS)) }),
    terminalExit: z.object({ id: terminalId, exitCode, signal }),
    terminalScreen: z.object({ cols: terminalSize, rows: terminalSize }),
    health: z.object({
      protocol: z.int().check(z.gte(1), z.lte(1000)),
      supervisorVersion: z.string().check(z.regex(SUPERVISOR_VERSION_PATTERN)),
      pid,
      uptimeMs: z.int().check(z.gte(0), z.lte(MAX_DURATION_MS)),
    }),
    processStatus,
    process: backgroundProcess,
    processList: z.object({ items: z.array(backgroundProcess).check(z.maxLength(MAX_PROCESS_LIST_ITEMS)) }),
    processInputResult: z.object({ written: z.int().check(z.gte(0), z.lte(MAX_PROCESS_INPUT_BYTES)) }),
    execStartedEvent,
    execOutputEvent,
    execExitEvent,
    execEvent: z.discriminatedUnion("type", [execStartedEvent, execOutputEvent, execExitEvent]),
    logStream,
    logRecord,
    logExitLine,
    logEndLine,
    logLine: z.union([logExitLine, logEndLine, untypedLogRecord]),
    errorBody: z.object({
      error: z.object({ code: z.string().check(z.regex(ERROR_CODE_PATTERN)), message: z.string().check(z.overwrite(boundErrorMessage)) }),
    }),
    portList: z.object({
      items: z
        .array(
          z.object({
            port: z.int().check(z.gte(1), z.lte(65_535)),
            /** Where it listens: 127.0.0.1, 0.0.0.0, :: or their IPv4-mapped forms. */
            addresses: z.array(z.string().check(z.regex(LISTEN_ADDRESS_PATTERN))).check(z.minLength(1), z.maxLength(8)),
            /** The process holding the socket, when the supervisor found it (its comm, made safe). */
            process: z.nullable(z.object({ pid, name: z.string().check(z.maxLength(MAX_PORT_PROCESS_NAME_CHARS), z.overwrite(boundErrorMessage)) })),
          }),
        )
        .check(z.maxLength(MAX_PORT_ITEMS)),
    }),
  };
}

// ---- the schemas, each built on first use (see the header)

function once<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= build();
    return value;
  };
}
const shared = once(buildSharedSchemas);
const requests = once(buildRequestSchemas);
const responses = once(buildResponseSchemas);

export const commandSchema = z.lazy(() => shared().command);

export const execRequestSchema = z.lazy(() => requests().execRequest);
export const startProcessRequestSchema = z.lazy(() => requests().startProcessRequest);
export const signalProcessRequestSchema = z.lazy(() => requests().signalProcessRequest);
/** POST /v1/processes/{id}/input */
export const processInputRequestSchema = z.lazy(() => requests().processInputRequest);
/** POST /v1/terminals */
export const createTerminalRequestSchema = z.lazy(() => requests().createTerminalRequest);

/** GET /v1/health */
export const healthResponseSchema = z.lazy(() => responses().health);
export const processStatusSchema = z.lazy(() => responses().processStatus);
/** A background process, as POST/GET /v1/processes… answer it. */
export const processSchema = z.lazy(() => responses().process);
/** GET /v1/processes: at most MAX_PROCESS_LIST_ITEMS. */
export const processListSchema = z.lazy(() => responses().processList);
/** POST /v1/processes/{id}/input: the bytes handed to the process. */
export const processInputResultSchema = z.lazy(() => responses().processInputResult);
export const execStartedEventSchema = z.lazy(() => responses().execStartedEvent);
export const execOutputEventSchema = z.lazy(() => responses().execOutputEvent);
export const execExitEventSchema = z.lazy(() => responses().execExitEvent);
/** One NDJSON line of an exec answer: started, then output, then exactly one exit. */
export const execEventSchema = z.lazy(() => responses().execEvent);
export const logStreamSchema = z.lazy(() => responses().logStream);
export const logRecordSchema = z.lazy(() => responses().logRecord);
/** Last line of a logs answer once the process has exited and every record was sent. */
export const logExitLineSchema = z.lazy(() => responses().logExitLine);
/** Last line of a logs answer without follow while the process still runs. */
export const logEndLineSchema = z.lazy(() => responses().logEndLine);
/** One NDJSON line of a logs answer. */
export const logLineSchema = z.lazy(() => responses().logLine);
/** `{ error: { code, message } }`; the message comes out bounded (boundErrorMessage). */
export const errorBodySchema = z.lazy(() => responses().errorBody);
/** A terminal session, as POST/GET /v1/terminals… answer it. */
export const terminalSchema = z.lazy(() => responses().terminal);
/** GET /v1/terminals: at most MAX_TERMINALS. */
export const terminalListSchema = z.lazy(() => responses().terminalList);
/** DELETE /v1/terminals/{id}: how its shell ended. */
export const terminalExitSchema = z.lazy(() => responses().terminalExit);
/** The JSON of a `screen` frame of an attach stream: a whole-screen redraw follows. */
export const terminalScreenSchema = z.lazy(() => responses().terminalScreen);
/** GET /v1/ports: the listening TCP ports a tunnel reaches, at most MAX_PORT_ITEMS. */
export const portListSchema = z.lazy(() => responses().portList);

// ---- the wire types, inferred (protocol.ts re-exports them)

export type Command = z.output<typeof commandSchema>;
export type ExecRequest = z.output<typeof execRequestSchema>;
export type StartProcessRequest = z.output<typeof startProcessRequestSchema>;
export type SignalProcessRequest = z.output<typeof signalProcessRequestSchema>;
export type ProcessInputRequest = z.output<typeof processInputRequestSchema>;
export type ProcessInputResult = z.output<typeof processInputResultSchema>;
export type HealthResponse = z.output<typeof healthResponseSchema>;
export type ProcessStatus = z.output<typeof processStatusSchema>;
export type Process = z.output<typeof processSchema>;
export type ProcessList = z.output<typeof processListSchema>;
export type ExecStartedEvent = z.output<typeof execStartedEventSchema>;
export type ExecOutputEvent = z.output<typeof execOutputEventSchema>;
export type ExecExitEvent = z.output<typeof execExitEventSchema>;
export type ExecEvent = z.output<typeof execEventSchema>;
export type LogStream = z.output<typeof logStreamSchema>;
export type LogRecord = z.output<typeof logRecordSchema>;
export type LogExitLine = z.output<typeof logExitLineSchema>;
export type LogEndLine = z.output<typeof logEndLineSchema>;
export type LogLine = z.output<typeof logLineSchema>;
export type ErrorBody = z.output<typeof errorBodySchema>;
export type CreateTerminalRequest = z.output<typeof createTerminalRequestSchema>;
export type Terminal = z.output<typeof terminalSchema>;
export type TerminalList = z.output<typeof terminalListSchema>;
export type TerminalExit = z.output<typeof terminalExitSchema>;
export type TerminalScreen = z.output<typeof terminalScreenSchema>;
export type PortList = z.output<typeof portListSchema>;

// ---- files (daemon/files/): what the file routes take and answer. Paths are confined to
// the workspace and the home folder by the daemon; the client still bounds every field.

/** PATH_MAX on Linux; a longer path cannot name a file anyway. */
export const MAX_FILE_PATH_CHARS = 4096;
/** NAME_MAX on Linux is 255 bytes; a name decoded from them is at most as many characters. */
export const MAX_FILE_NAME_CHARS = 255;
/** A folder listing stops here (`truncated: true`). */
export const MAX_FOLDER_ENTRIES = 10_000;
/** Changes per line of a watch: a line stays far under the client's line cap. */
export const MAX_WATCH_BATCH = 100;
/** Entries of an uploaded archive that were skipped, named in its summary (the rest only counted). */
export const MAX_ARCHIVE_SKIPPED = 100;
export const FILE_TYPES = ["file", "dir", "symlink", "other"] as const;

function buildFileSchemas() {
  const path = boundedString(1, MAX_FILE_PATH_CHARS);
  const absolute = z.string().check(
    z.minLength(1),
    z.maxLength(MAX_FILE_PATH_CHARS),
    z.refine((text: string) => text.startsWith("/") && !text.includes("\0")),
  );
  const name = z.string().check(
    z.minLength(1),
    z.maxLength(MAX_FILE_NAME_CHARS),
    z.refine((text: string) => text !== "." && text !== ".." && !/[/\0]/.test(text)),
  );
  const count = z.int().check(z.gte(0), z.lte(Number.MAX_SAFE_INTEGER));
  const entryShape = {
    name,
    type: z.enum(FILE_TYPES),
    size: count,
    /** ISO 8601 UTC; times outside years 0–9999 come as the epoch. */
    mtime: z.iso.datetime().check(z.maxLength(MAX_TIMESTAMP_CHARS)),
    /** Permission bits (mode & 0o7777). */
    mode: z.int().check(z.gte(0), z.lte(0o7777)),
    /** A symlink's target as written, never followed by the listing. */
    target: z.optional(
      z.string().check(
        z.maxLength(MAX_FILE_PATH_CHARS),
        z.refine((text: string) => !text.includes("\0")),
      ),
    ),
  };
  const entry = z.object(entryShape);
  const flag = z.optional(z.boolean("must be true or false."));
  const mkdirShape = { path, parents: flag };
  const moveShape = { from: path, to: path, overwrite: flag };
  const deleteShape = { path, recursive: flag };
  /** Text for people (a reason, an archive entry's name): bounded and made safe like error messages. */
  const text = z.string().check(z.maxLength(MAX_FILE_PATH_CHARS), z.overwrite(boundErrorMessage));
  const change = z.object({ name, entry: z.nullable(entry) });
  return {
    mkdirRequest: z.strictObject(mkdirShape, bodyError(Object.keys(mkdirShape))),
    moveRequest: z.strictObject(moveShape, bodyError(Object.keys(moveShape))),
    deleteRequest: z.strictObject(deleteShape, bodyError(Object.keys(deleteShape))),
    entry,
    /** What a path is; a folder comes with its entries (at most MAX_FOLDER_ENTRIES). */
    info: z.object({
      path: absolute,
      ...entryShape,
      entries: z.optional(z.array(entry).check(z.maxLength(MAX_FOLDER_ENTRIES))),
      truncated: z.optional(z.boolean()),
    }),
    writeResult: z.object({ path: absolute, ...entryShape, created: z.boolean() }),
    deleteResult: z.object({ path: absolute }),
    archiveSummary: z.object({
      path: absolute,
      files: count,
      directories: count,
      symlinks: count,
      hardlinks: count,
      bytes: count,
      skipped: z.array(z.object({ path: text, reason: text })).check(z.maxLength(MAX_ARCHIVE_SKIPPED)),
      skippedCount: count,
    }),
    change,
    /** The headers of GET /v1/files/content, as numbers: the bytes sent, and the file's size, mtime and mode. */
    contentHead: z.object({ length: count, size: count, mtime: entryShape.mtime, mode: entryShape.mode }),
    watchLine: z.discriminatedUnion("type", [
      z.object({ type: z.literal("ready"), path: absolute }),
      z.object({ type: z.literal("changes"), changes: z.array(change).check(z.minLength(1), z.maxLength(MAX_WATCH_BATCH)) }),
      z.object({ type: z.literal("overflow") }),
      z.object({ type: z.literal("end"), reason: text }),
    ]),
  };
}

const fileSchemas = once(buildFileSchemas);

/** POST /v1/files/mkdir */
export const makeDirectoryRequestSchema = z.lazy(() => fileSchemas().mkdirRequest);
/** POST /v1/files/move */
export const movePathRequestSchema = z.lazy(() => fileSchemas().moveRequest);
/** POST /v1/files/delete */
export const deletePathRequestSchema = z.lazy(() => fileSchemas().deleteRequest);
/** One entry of a folder. */
export const fileEntrySchema = z.lazy(() => fileSchemas().entry);
/** GET /v1/files, POST /v1/files/mkdir and /move: what a path is (a folder with its entries). */
export const fileInfoSchema = z.lazy(() => fileSchemas().info);
/** POST /v1/files/content */
export const writeFileResultSchema = z.lazy(() => fileSchemas().writeResult);
/** POST /v1/files/delete */
export const deletePathResultSchema = z.lazy(() => fileSchemas().deleteResult);
/** POST /v1/files/archive */
export const archiveSummarySchema = z.lazy(() => fileSchemas().archiveSummary);
export const watchChangeSchema = z.lazy(() => fileSchemas().change);
/** GET /v1/files/content's headers (content-length, x-outpost-file-size, -mtime, -mode). */
export const fileContentHeadSchema = z.lazy(() => fileSchemas().contentHead);
/** One NDJSON line of GET /v1/files/watch. */
export const watchLineSchema = z.lazy(() => fileSchemas().watchLine);

export type FileType = (typeof FILE_TYPES)[number];
export type MakeDirectoryRequest = z.output<typeof makeDirectoryRequestSchema>;
export type MovePathRequest = z.output<typeof movePathRequestSchema>;
export type DeletePathRequest = z.output<typeof deletePathRequestSchema>;
export type FileEntry = z.output<typeof fileEntrySchema>;
export type FileInfo = z.output<typeof fileInfoSchema>;
export type WriteFileResult = z.output<typeof writeFileResultSchema>;
export type DeletePathResult = z.output<typeof deletePathResultSchema>;
export type ArchiveSummary = z.output<typeof archiveSummarySchema>;
export type WatchChange = z.output<typeof watchChangeSchema>;
export type WatchLine = z.output<typeof watchLineSchema>;
export type FileContentHead = z.output<typeof fileContentHeadSchema>;
