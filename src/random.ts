// Random identifiers shared by the control plane and the in-sandbox supervisor (a leaf:
// imports nothing of Outpost, so both bundles can use it).
import { randomBytes } from "node:crypto";

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
