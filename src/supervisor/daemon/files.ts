// Small file helpers: atomic JSON writes (write a temp file, fsync, rename) so a reader
// or a crash never sees half a file, and random ids.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

export function writeJsonAtomic(path: string, value: unknown): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, JSON.stringify(value, null, 2) + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** `length` characters of [a-z0-9], without modulo bias (bytes >= 252 are skipped). */
export function randomLowerAlnum(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 252 && out.length < length) out += ALPHABET[byte % 36];
    }
  }
  return out;
}

export const newProcessId = (): string => `prc_${randomLowerAlnum(12)}`;
