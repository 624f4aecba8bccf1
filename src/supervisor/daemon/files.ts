// Small file helpers: atomic JSON writes (write a temp file, fsync, rename) so a reader
// or a crash never sees half a file, and process ids.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
// Pure and dependency-free, so the bundled daemon may share it with the control plane.
import { randomLowerAlnum } from "../../random.ts";

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

export const newProcessId = (): string => `prc_${randomLowerAlnum(12)}`;
