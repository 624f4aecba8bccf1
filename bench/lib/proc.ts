// Reading Linux /proc: memory of a process (PSS from smaps_rollup, RSS and peak RSS from
// status), a process's descendants (through the ppid field of /proc/<pid>/stat), and
// whether a pid is alive. Processes that exit while being read are skipped, not errors.
import { readdirSync, readFileSync } from "node:fs";

export interface Memory {
  /** Proportional set size: private pages plus this process's share of shared ones. */
  pssKb: number;
  /** Unique set size: pages only this process maps (Private_Clean + Private_Dirty). */
  ussKb: number;
  rssKb: number;
  /** Peak resident set size (VmHWM). */
  peakRssKb: number;
}

const ZERO: Memory = { pssKb: 0, ussKb: 0, rssKb: 0, peakRssKb: 0 };

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function kbField(text: string, name: string): number {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

/** Memory of one process, or undefined if it is gone. */
export function processMemory(pid: number): Memory | undefined {
  const rollup = readText(`/proc/${pid}/smaps_rollup`);
  const status = readText(`/proc/${pid}/status`);
  if (rollup === undefined || status === undefined) return undefined;
  return {
    pssKb: kbField(rollup, "Pss"),
    ussKb: kbField(rollup, "Private_Clean") + kbField(rollup, "Private_Dirty"),
    rssKb: kbField(rollup, "Rss"),
    peakRssKb: kbField(status, "VmHWM"),
  };
}

/** The parent pid from /proc/<pid>/stat (the command name may hold spaces and parentheses). */
function parentOf(pid: number): number | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[1]);
}

/** Every live descendant of `root` (children, their children, ...), not `root` itself;
 *  the subtrees under `prune` are left out. */
export function descendants(root: number, prune: readonly number[] = []): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const parent = parentOf(pid);
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(pid);
    children.set(parent, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (prune.includes(child)) continue;
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

export interface TreeMemory extends Memory {
  processes: number;
}

/** Memory of `root` plus its descendants (minus the subtrees under `prune`), summed.
 *  PSS sums correctly; RSS counts shared pages once per process. */
export function treeMemory(root: number, prune: readonly number[] = []): TreeMemory {
  let total: TreeMemory = { ...ZERO, processes: 0 };
  for (const pid of [root, ...descendants(root, prune)]) {
    const memory = processMemory(pid);
    if (!memory) continue;
    total = {
      pssKb: total.pssKb + memory.pssKb,
      ussKb: total.ussKb + memory.ussKb,
      rssKb: total.rssKb + memory.rssKb,
      peakRssKb: total.peakRssKb + memory.peakRssKb,
      processes: total.processes + 1,
    };
  }
  return total;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie still answers signal 0 but is gone for our purposes.
  const stat = readText(`/proc/${pid}/stat`);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}

/** The process's command line, arguments joined by spaces ("" if it is gone). */
export function commandLine(pid: number): string {
  return (readText(`/proc/${pid}/cmdline`) ?? "").split("\0").join(" ").trim();
}

/** Live processes (other than this one) whose command line contains `text`. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (commandLine(Number(entry)).includes(text) && isAlive(Number(entry))) found.push(Number(entry));
  }
  return found;
}
