// CPU time of a process from /proc/<pid>/stat, to show where a streamed exec spends it.
import { readFileSync } from "node:fs";
import { commandOutput } from "./peers.ts";

let ticksPerSecond: number | undefined;

/** USER_HZ (`getconf CLK_TCK`), 100 on Linux unless told otherwise. */
export async function clockTicks(): Promise<number> {
  ticksPerSecond ??= Number(await commandOutput("getconf", ["CLK_TCK"])) || 100;
  return ticksPerSecond;
}

/** User + system CPU seconds of `pid`; with `reaped`, plus that of its children it has
 *  waited for (a supervisor's finished commands). Undefined if the process is gone. */
export function cpuSeconds(pid: number, ticks: number, reaped = false): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // Fields after "(comm) ": state is [0], utime [11], stime [12], cutime [13], cstime [14].
  const fields = stat
    .slice(stat.lastIndexOf(")") + 2)
    .split(" ")
    .map(Number);
  const own = fields[11]! + fields[12]!;
  return (reaped ? own + fields[13]! + fields[14]! : own) / ticks;
}
