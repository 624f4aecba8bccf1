// Deleting a folder with everything in it, without ever following a symlink: each folder is
// opened with O_NOFOLLOW through its parent's descriptor and emptied through its own, so a
// folder swapped for a symlink meanwhile is unlinked as a link, never descended into.
import { type FileHandle, lstat, open, opendir, rmdir, unlink } from "node:fs/promises";
import { invalid, SupervisorError } from "../errors.ts";
import { fdPath, inDir, OPEN_DIRECTORY } from "./confine.ts";

/** Each level holds one descriptor; deeper trees are refused rather than running out. */
const MAX_DEPTH = 256;
/** Names read before deleting them; the folder is read again until it is empty. */
const BATCH = 1000;

export async function removeTree(parent: FileHandle, name: string, depth = 0): Promise<void> {
  if (depth > MAX_DEPTH) throw invalid(`The folder is nested more than ${MAX_DEPTH} levels deep; delete its deepest parts first.`);
  let dir: FileHandle;
  try {
    dir = await open(inDir(parent, name), OPEN_DIRECTORY);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // No longer a folder (a symlink or a file took its place): remove that instead.
    if (code === "ELOOP" || code === "ENOTDIR") return unlink(inDir(parent, name));
    throw error;
  }
  try {
    for (;;) {
      const names: string[] = [];
      for await (const dirent of await opendir(fdPath(dir), { bufferSize: 256 })) {
        names.push(dirent.name);
        if (names.length === BATCH) break;
      }
      if (names.length === 0) break;
      let removed = 0;
      for (const child of names) {
        // A name that is not valid UTF-8 comes decoded and cannot be named back: it stays.
        const stats = await lstat(inDir(dir, child)).catch(() => null);
        if (!stats) continue;
        if (stats.isDirectory()) await removeTree(dir, child, depth + 1);
        else await unlink(inDir(dir, child));
        removed++;
      }
      if (removed === 0)
        throw new SupervisorError(
          "DIRECTORY_NOT_EMPTY",
          "Some names in the folder cannot be deleted through the API (not valid UTF-8); delete them with `outpost exec`.",
        );
    }
  } finally {
    await dir.close();
  }
  await rmdir(inDir(parent, name));
}
