// Start-up: one control plane per data dir. Two would fight over its database and sandboxes.
import { readFileSync } from "node:fs";
import { StartupError } from "../domain/errors.ts";

export function refuseSecondServer(serverInfoFile: string): void {
  let info: { pid?: number; url?: string };
  try {
    info = JSON.parse(readFileSync(serverInfoFile, "utf8"));
  } catch {
    return;
  }
  if (!info.pid || info.pid === process.pid) return;
  let commandLine = "";
  try {
    commandLine = readFileSync(`/proc/${info.pid}/cmdline`, "utf8");
  } catch {
    return; // not running (or not Linux): the file is left over from an earlier run
  }
  if (commandLine.includes("outpost") && commandLine.includes("serve")) {
    throw new StartupError(
      `Outpost is already running for this data dir (pid ${info.pid}, ${info.url ?? "unknown URL"})`,
      "stop that one first, or set OUTPOST_DATA_DIR to another folder",
    );
  }
}
