// What a file is, as the protocol describes it (name, type, size, mtime, mode, a symlink's
// target), and a folder's entries: read through the folder's descriptor, bounded in count
// (MAX_FOLDER_ENTRIES) and in bytes, so one huge folder costs neither side much memory.
import type { Stats } from "node:fs";
import { type FileHandle, lstat, opendir, readlink } from "node:fs/promises";
import type { FileEntry, FileType } from "../../protocol.ts";
import { MAX_FILE_NAME_CHARS, MAX_FILE_PATH_CHARS, MAX_FOLDER_ENTRIES } from "../../protocol-schemas.ts";
import { fdPath, inDir } from "./confine.ts";

/** A listing's JSON stays under this (the client accepts answers up to 16 MiB). */
const MAX_LISTING_BYTES = 8 * 1024 * 1024;
/** lstat calls in flight at once while listing. */
const LSTAT_BATCH = 64;

export function typeOf(stats: Stats): FileType {
  if (stats.isFile()) return "file";
  if (stats.isDirectory()) return "dir";
  if (stats.isSymbolicLink()) return "symlink";
  return "other";
}

/** ISO 8601 in UTC; a time that cannot be written in four-digit years comes as the epoch. */
export function isoTime(ms: number): string {
  const date = new Date(Math.trunc(ms));
  const year = date.getUTCFullYear();
  return Number.isFinite(date.getTime()) && year >= 0 && year <= 9999 ? date.toISOString() : new Date(0).toISOString();
}

export function entryOf(name: string, stats: Stats, target?: string): FileEntry {
  const entry: FileEntry = { name, type: typeOf(stats), size: stats.size, mtime: isoTime(stats.mtimeMs), mode: stats.mode & 0o7777 };
  if (target !== undefined) entry.target = target;
  return entry;
}

/** The entry for `name` in the open folder `dir`, without following it; null when it is gone. */
export async function entryIn(dir: FileHandle, name: string): Promise<FileEntry | null> {
  try {
    const stats = await lstat(inDir(dir, name));
    const target = stats.isSymbolicLink() ? await readlink(inDir(dir, name)).catch(() => undefined) : undefined;
    return entryOf(name, stats, target?.slice(0, MAX_FILE_PATH_CHARS));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw error;
  }
}

/**
 * The entries of the open folder `dir`, sorted by name. A name that is not valid UTF-8
 * cannot be addressed by a JSON path: its lstat under the decoded name fails and it is left
 * out, like entries that vanish meanwhile.
 */
export async function listEntries(dir: FileHandle): Promise<{ entries: FileEntry[]; truncated: boolean }> {
  const names: string[] = [];
  let truncated = false;
  // Iterating a Dir reads the folder in small batches; leaving the loop closes it.
  for await (const dirent of await opendir(fdPath(dir), { bufferSize: 256 })) {
    if (names.length === MAX_FOLDER_ENTRIES) {
      truncated = true;
      break;
    }
    if (dirent.name.length <= MAX_FILE_NAME_CHARS) names.push(dirent.name);
  }
  names.sort();
  const entries: FileEntry[] = [];
  let bytes = 0;
  for (let start = 0; start < names.length; start += LSTAT_BATCH) {
    const batch = await Promise.all(names.slice(start, start + LSTAT_BATCH).map((name) => entryIn(dir, name)));
    for (const entry of batch) {
      if (!entry) continue;
      bytes += JSON.stringify(entry).length + 1;
      if (bytes > MAX_LISTING_BYTES) return { entries, truncated: true };
      entries.push(entry);
    }
  }
  return { entries, truncated };
}
