// How a sandbox's pid 1 ended, from the file bwrap writes with --json-status-fd
// (launcher.ts opens it as <sandbox dir>/status.json). bwrap writes one JSON object per
// event, one after another: {"child-pid": N, …namespace ids} at start, {"exit-code": N}
// when the command exits. The file outlives the control plane, so a sandbox that died
// while nobody was its parent still tells its exit code.
// The sandbox cannot write this file (the control plane owns it), but bwrap runs as the
// sandbox's uid, so the reader stays defensive: bounded, and garbage yields null.
import { closeSync, openSync, readSync } from "node:fs";

/** Enough for the two small documents bwrap writes; a larger file is not bwrap's. */
export const STATUS_MAX_BYTES = 64 * 1024;

export interface ExitStatus {
  exitCode: number;
}

/** The exit code recorded in bwrap's status file, or null (no exit yet, no file, garbage). */
export function readExitStatus(path: string): ExitStatus | null {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buffer = Buffer.alloc(STATUS_MAX_BYTES);
    const length = readSync(fd, buffer, 0, STATUS_MAX_BYTES, 0);
    return parseExitStatus(buffer.toString("utf8", 0, length));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Finds the {"exit-code": N} object among the concatenated ones (pure). The launcher
 *  truncates the file at each start, so there is one; were there more, the last counts. */
export function parseExitStatus(text: string): ExitStatus | null {
  let status: ExitStatus | null = null;
  for (const document of jsonObjects(text)) {
    const code = document["exit-code"];
    if (typeof code === "number" && Number.isInteger(code) && code >= 0) status = { exitCode: code };
  }
  return status;
}

/** The top-level JSON objects in `text`, skipping anything that does not parse. bwrap's
 *  objects are flat, so a `{` … `}` span without nested braces is one candidate; strings
 *  holding braces would confuse this, and bwrap writes none. */
function jsonObjects(text: string): Array<Record<string, unknown>> {
  const objects: Array<Record<string, unknown>> = [];
  for (const match of text.matchAll(/\{[^{}]*\}/g)) {
    try {
      const value: unknown = JSON.parse(match[0]);
      if (value && typeof value === "object" && !Array.isArray(value)) objects.push(value as Record<string, unknown>);
    } catch {
      // a torn or foreign fragment
    }
  }
  return objects;
}

/** Why a sandbox ended on its own, for the `sandbox.lost` event (pure). */
export function describeLastExit(status: ExitStatus | null, oomKills: number): { reason: string; oomKilled: boolean } {
  const how = !status ? "ended" : status.exitCode > 128 ? `was killed by signal ${status.exitCode - 128}` : `exited with code ${status.exitCode}`;
  const memory = oomKills > 0 ? `; the kernel killed ${oomKills} process(es) of the sandbox for lack of memory (raise the memory limit)` : "";
  return { reason: `the sandbox's supervisor ${how}${memory}`, oomKilled: oomKills > 0 };
}
