// Request bodies, checked with the protocol's schemas (protocol-schemas.ts). Each function
// returns the typed value or throws INVALID_REQUEST with one sentence naming the field
// ("'timeoutMs' must be an integer from 1 to 2147483647."). Unknown fields are refused so
// that a typo (`timeout` for `timeoutMs`) is an error rather than silently ignored.
import type * as z from "zod/mini";
import {
  type CreateTerminalRequest,
  createTerminalRequestSchema,
  type ExecRequest,
  execRequestSchema,
  type SignalProcessRequest,
  type StartProcessRequest,
  shortenForMessage,
  signalProcessRequestSchema,
  startProcessRequestSchema,
} from "../protocol-schemas.ts";
import { invalid } from "./errors.ts";

type Issue = z.core.$ZodIssue;

/** ["command", 1] → command[1]; ["env", "A"] → env.A; an odd key is quoted: env["A B"]. */
function fieldName(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => {
      if (typeof part === "number") return `[${part}]`;
      const key = shortenForMessage(String(part));
      if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return index === 0 ? key : `.${key}`;
      return `[${JSON.stringify(key)}]`;
    })
    .join("");
}

/** The sentence for one issue: the schemas' texts are the end of it ("must be …"). */
function describe(issue: Issue): string {
  if (issue.code === "invalid_union") {
    // `command` is a string or an array: when the value is one of those, the problem is
    // inside that branch ('command[1]' must be a string), not the type of `command`.
    const branch = issue.errors.find((issues) => issues.length > 0 && !issues.some((inner) => inner.path.length === 0 && inner.code === "invalid_type"));
    const inner = branch?.[0];
    if (inner) return describe({ ...inner, path: [...issue.path, ...inner.path] });
  }
  if (issue.code === "invalid_key") {
    const name = JSON.stringify(shortenForMessage(String(issue.path[issue.path.length - 1])));
    return `'${fieldName(issue.path.slice(0, -1))}' has an invalid variable name ${name}: ${issue.issues[0]?.message ?? "not allowed"}.`;
  }
  // The body as a whole (not an object, unknown fields): the schema wrote the sentence.
  if (issue.path.length === 0) return issue.message;
  return `'${fieldName(issue.path)}' ${issue.message}`;
}

function parse<S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const { issues } = result.error;
  // Unknown fields first, as before: a misspelt field usually explains the other issues.
  const first = issues.find((issue) => issue.code === "unrecognized_keys" && issue.path.length === 0) ?? issues[0];
  throw invalid(first ? describe(first) : "The body is not valid.");
}

export const parseExecRequest = (body: unknown): ExecRequest => parse(execRequestSchema, body);

export const parseStartProcessRequest = (body: unknown): StartProcessRequest => parse(startProcessRequestSchema, body);

export const parseSignalRequest = (body: unknown): SignalProcessRequest => parse(signalProcessRequestSchema, body);

export const parseCreateTerminalRequest = (body: unknown): CreateTerminalRequest => parse(createTerminalRequestSchema, body);

/** The same check for any request schema of the protocol (the file routes' bodies). */
export const parseWith = <S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> => parse(schema, body);
