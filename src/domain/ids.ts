// Opaque resource ids with a type prefix (`prj_…`), as docs/api.md describes. The random
// part is lowercase base32-ish so ids are safe in URLs, file names and DNS labels.
import { randomBytes } from "node:crypto";

export const ID_PREFIXES = {
  user: "usr",
  token: "tok",
  project: "prj",
  sandbox: "sbx",
  run: "run",
  process: "prc",
  database: "db",
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `length` characters from [a-z0-9], without modulo bias (rejection sampling). */
export function randomLowerAlnum(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
  }
  return out;
}

export function newId(kind: IdKind): string {
  return `${ID_PREFIXES[kind]}_${randomLowerAlnum(16)}`;
}

/** True when `value` looks like an id of that kind (used to tell ids from names in routes). */
export function isIdOf(kind: IdKind, value: string): boolean {
  return new RegExp(`^${ID_PREFIXES[kind]}_[a-z0-9]{6,32}$`).test(value);
}
