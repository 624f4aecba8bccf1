// Keyset pagination shared by every list: a page of items and an opaque cursor that names
// the last row's seq. Opaque so clients pass it back as is and never build one themselves.
import { OutpostError } from "./errors.ts";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(seq: number): string {
  return Buffer.from(`s:${seq}`).toString("base64url");
}

/** The seq a cursor names; a cursor this server did not give out is a 400, never a crash. */
export function decodeCursor(cursor: string): number {
  const match = /^s:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw new OutpostError("INVALID_CURSOR", "The cursor is not one this server gave out.", { details: { cursor } });
  return Number(match[1]);
}
