// Opaque resource ids with a type prefix (`prj_…`), as docs/api.md describes. The random
// part is lowercase base32-ish so ids are safe in URLs, file names and DNS labels.
import { randomLowerAlnum } from "../random.ts";

export { randomLowerAlnum };

export const ID_PREFIXES = {
  user: "usr",
  token: "tok",
  project: "prj",
  sandbox: "sbx",
  run: "run",
  conversation: "cnv",
  approval: "apr",
  process: "prc",
  database: "db",
  share: "shr",
  checkpoint: "chk",
  environment: "env",
  build: "bld",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${randomLowerAlnum(16)}`;
}

/** True when `value` looks like an id of that kind (used to tell ids from names in routes). */
export function isIdOf(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[a-z0-9]{6,32}$`).test(value);
}
