// Argument parsing for `outpost <noun> <verb>`: global flags anywhere on the line, then
// positionals. Bad usage throws UsageError (exit code 2).
import { type ParseArgsConfig, parseArgs } from "node:util";

export class UsageError extends Error {
  override name = "UsageError";
}

export const GLOBAL_OPTIONS = {
  url: { type: "string" },
  token: { type: "string" },
  "data-dir": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const satisfies ParseArgsConfig["options"];

export function parse<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export type GlobalFlags = { url?: string; token?: string; "data-dir"?: string; json: boolean };
