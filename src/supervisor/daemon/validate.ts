// Hand-written validation of request bodies (no schema library in the daemon, to keep its
// bundle and memory small). Each function returns the typed value or throws
// INVALID_REQUEST naming the offending field. Unknown fields are refused so that a typo
// (`timeout` for `timeoutMs`) is an error rather than silently ignored.
import { ALLOWED_SIGNALS, type AllowedSignal, type Command, type ExecRequest, type SignalProcessRequest, type StartProcessRequest } from "../protocol.ts";
import { invalid } from "./errors.ts";

/** Node's timers cannot wait longer than this (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

type Fields = Record<string, unknown>;

function object(value: unknown, allowed: readonly string[]): Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("The body must be a JSON object.");
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(`Unknown field '${key}' (allowed: ${allowed.join(", ")}).`);
  }
  return value as Fields;
}

// NUL cannot pass through execve; Node would throw a less helpful error later.
const hasNul = (text: string) => text.includes("\0");

function command(value: unknown): Command {
  if (typeof value === "string") {
    if (value.trim() === "") throw invalid("'command' must not be empty.");
    if (hasNul(value)) throw invalid("'command' must not contain NUL characters.");
    return value;
  }
  if (Array.isArray(value)) {
    if (value.length === 0) throw invalid("'command' as an array needs at least the program.");
    value.forEach((arg, index) => {
      if (typeof arg !== "string") throw invalid(`'command[${index}]' must be a string.`);
      if (hasNul(arg)) throw invalid(`'command[${index}]' must not contain NUL characters.`);
    });
    if ((value[0] as string) === "") throw invalid("'command[0]' (the program) must not be empty.");
    return value as string[];
  }
  throw invalid("'command' must be a string (run by sh -c) or an array of strings (argv).");
}

function optionalString(fields: Fields, key: string, { min = 0, max = Number.POSITIVE_INFINITY } = {}): string | undefined {
  const value = fields[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string") throw invalid(`'${key}' must be a string.`);
  if (value.length < min || value.length > max) throw invalid(`'${key}' must be ${min} to ${max} characters long.`);
  if (hasNul(value)) throw invalid(`'${key}' must not contain NUL characters.`);
  return value;
}

function env(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid("'env' must be an object of strings.");
  const result: Record<string, string> = {};
  for (const [name, text] of Object.entries(value)) {
    if (name === "" || name.includes("=") || hasNul(name)) throw invalid(`'env' has an invalid variable name ${JSON.stringify(name)}.`);
    if (typeof text !== "string") throw invalid(`'env.${name}' must be a string.`);
    if (hasNul(text)) throw invalid(`'env.${name}' must not contain NUL characters.`);
    result[name] = text;
  }
  return result;
}

/** Drops undefined members so optional fields stay absent (exactOptionalPropertyTypes-friendly). */
function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) if (value[key] === undefined) delete value[key];
  return value;
}

export function parseExecRequest(body: unknown): ExecRequest {
  const fields = object(body, ["command", "cwd", "env", "timeoutMs", "stdin"]);
  const timeoutMs = fields.timeoutMs;
  if (timeoutMs !== undefined && (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS)) {
    throw invalid(`'timeoutMs' must be an integer from 1 to ${MAX_TIMEOUT_MS}.`);
  }
  const stdin = fields.stdin;
  if (stdin !== undefined && typeof stdin !== "string") throw invalid("'stdin' must be a string.");
  return compact({
    command: command(fields.command),
    cwd: optionalString(fields, "cwd", { min: 1 }),
    env: env(fields.env),
    timeoutMs: timeoutMs as number | undefined,
    stdin: stdin as string | undefined,
  });
}

export function parseStartProcessRequest(body: unknown): StartProcessRequest {
  const fields = object(body, ["command", "cwd", "env", "name"]);
  return compact({
    command: command(fields.command),
    cwd: optionalString(fields, "cwd", { min: 1 }),
    env: env(fields.env),
    name: optionalString(fields, "name", { min: 1, max: 100 }),
  });
}

export function parseSignalRequest(body: unknown): SignalProcessRequest {
  const fields = object(body, ["signal"]);
  const signal = fields.signal;
  if (typeof signal !== "string" || !(ALLOWED_SIGNALS as readonly string[]).includes(signal)) {
    throw invalid(`'signal' must be one of ${ALLOWED_SIGNALS.join(", ")}.`);
  }
  return { signal: signal as AllowedSignal };
}
