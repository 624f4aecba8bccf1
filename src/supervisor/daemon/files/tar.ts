// The tar format (POSIX ustar, with pax extended headers for what ustar cannot hold), as far
// as folders need it: headers written for files, folders and symlinks; headers read from
// ustar, pax ('x', 'g') and GNU tar (long names 'L'/'K', base-256 sizes), the archives
// `tar -c` writes on Linux and macOS. Pure: bytes in, bytes out.
import { SupervisorError } from "../errors.ts";

export const BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

export type EntryKind = "file" | "dir" | "symlink" | "hardlink" | "pax" | "pax-global" | "gnu-longname" | "gnu-longlink" | "other";

export interface TarHeader {
  name: string;
  kind: EntryKind;
  /** The raw type flag, for messages about entries that are skipped. */
  flag: string;
  size: number;
  mode: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkname: string;
}

const KINDS: Record<string, EntryKind> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "5": "dir",
  x: "pax",
  g: "pax-global",
  L: "gnu-longname",
  K: "gnu-longlink",
};
const FLAGS: Partial<Record<EntryKind, string>> = { file: "0", hardlink: "1", symlink: "2", dir: "5", pax: "x" };

/** The largest number an 11-digit octal field holds; bigger values go into a pax record. */
const MAX_OCTAL_11 = 0o77777777777;

export const invalidArchive = (message: string): SupervisorError => new SupervisorError("INVALID_ARCHIVE", message);

// ---- writing

/**
 * The header block(s) for one entry: a pax header first when the name or link target is
 * longer than ustar holds or not plain ASCII, or the size needs more than 11 octal digits.
 */
export function encodeEntry(entry: { name: string; kind: "file" | "dir" | "symlink"; size: number; mode: number; mtime: number; linkname?: string }): Buffer {
  const linkname = entry.linkname ?? "";
  const pax: Record<string, string> = {};
  if (!fitsUstar(entry.name)) pax.path = entry.name;
  if (linkname && !fitsUstar(linkname)) pax.linkpath = linkname;
  if (entry.size > MAX_OCTAL_11) pax.size = String(entry.size);
  const header = ustarHeader({
    name: pax.path ? asciiStandIn(entry.name) : entry.name,
    flag: FLAGS[entry.kind] as string,
    size: pax.size ? 0 : entry.size,
    mode: entry.mode,
    mtime: entry.mtime,
    linkname: pax.linkpath ? asciiStandIn(linkname) : linkname,
  });
  if (Object.keys(pax).length === 0) return header;
  const records = Buffer.from(
    Object.entries(pax)
      .map(([key, value]) => paxRecord(key, value))
      .join(""),
    "utf8",
  );
  const paxHeader = ustarHeader({ name: "PaxHeader", flag: "x", size: records.length, mode: 0o644, mtime: entry.mtime, linkname: "" });
  return Buffer.concat([paxHeader, records, Buffer.alloc(padding(records.length)), header]);
}

/** Zero bytes that complete a data area of `size` bytes to a whole block. */
export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function fitsUstar(text: string): boolean {
  return Buffer.byteLength(text) <= 100 && /^[\x20-\x7e]*$/.test(text);
}

/** What readers without pax support see: the name cut to ASCII (pax readers use the record). */
function asciiStandIn(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "_").slice(0, 100);
}

/** "<length> key=value\n", where the length counts the whole record, its own digits included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bytes = Buffer.byteLength(body);
  let digits = String(bytes).length;
  if (String(bytes + digits).length > digits) digits += 1;
  return `${bytes + digits}${body}`;
}

function ustarHeader(fields: { name: string; flag: string; size: number; mode: number; mtime: number; linkname: string }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, "utf8");
  writeOctal(block, 100, 8, fields.mode & 0o7777);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, Math.min(Math.max(0, Math.floor(fields.mtime)), MAX_OCTAL_11));
  block.write(fields.flag, 156, 1, "latin1");
  block.write(fields.linkname, 157, 100, "utf8");
  block.write("ustar\u000000", 257, 8, "latin1");
  // The checksum counts its own field as eight spaces.
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "latin1");
  return block;
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  block.write(`${value.toString(8).padStart(width - 1, "0")}\u0000`, offset, width, "latin1");
}

// ---- reading

export function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/** One header block, checksum verified. */
export function decodeHeader(block: Buffer): TarHeader {
  const stored = readNumber(block, 148, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed)
    throw invalidArchive("The body is not a tar archive (a header's checksum does not match); compressed archives are not accepted.");
  const flag = String.fromCharCode(block[156] as number);
  // Only POSIX ustar uses bytes 345–500 as a name prefix (GNU tar keeps times there).
  const posix = block.toString("latin1", 257, 263) === "ustar\u0000";
  const prefix = posix ? cString(block, 345, 155) : "";
  const name = cString(block, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    kind: KINDS[flag] ?? "other",
    flag,
    size: readNumber(block, 124, 12),
    mode: readNumber(block, 100, 8) & 0o7777,
    mtime: readNumber(block, 136, 12),
    linkname: cString(block, 157, 100),
  };
}

/** The records of a pax header ("<length> key=value\n" each). */
export function decodePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = Number(data.toString("latin1", offset, space));
    if (space === -1 || !Number.isInteger(length) || length <= space - offset || offset + length > data.length) {
      throw invalidArchive("The archive has a malformed pax header.");
    }
    const record = data.toString("utf8", space + 1, offset + length - 1);
    const equals = record.indexOf("=");
    if (equals > 0) records[record.slice(0, equals)] = record.slice(equals + 1);
    offset += length;
  }
  return records;
}

/** A NUL-terminated string field (GNU long names come the same way). */
export function cString(block: Buffer, offset: number, width: number): string {
  const end = block.indexOf(0, offset);
  return block.toString("utf8", offset, end === -1 || end > offset + width ? offset + width : end);
}

/** Octal digits (space or NUL terminated), or GNU's base-256 for big values. */
function readNumber(block: Buffer, offset: number, width: number): number {
  if (((block[offset] as number) & 0x80) !== 0) {
    let value = (block[offset] as number) & 0x7f;
    for (let i = 1; i < width; i++) value = value * 256 + (block[offset + i] as number);
    if (!Number.isSafeInteger(value)) throw invalidArchive("The archive has a number too large to be real.");
    return value;
  }
  const text = (block.toString("latin1", offset, offset + width).split("\0")[0] ?? "").trim();
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw invalidArchive("The body is not a tar archive (a header has a malformed number).");
  return Number.parseInt(text, 8);
}
