// Reading host processes from /proc. A pid alone is not an identity (pids are reused), so
// the driver records (boot id, pid, start time in clock ticks since boot) and only treats
// a process as "the same" when all three match. Zombies count as gone: they run nothing,
// hold no memory, and on hosts whose init does not reap orphans they linger forever.
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  ppid: number;
  /** R, S, D, Z, T, X, … */
  state: string;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot (kept as a string: exact). */
  startTicks: string;
}

/** A process as the driver records it. */
export interface ProcessIdentity {
  pid: number;
  startTicks: string;
}

/** Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses,
 *  so fields are counted from the last ')'. */
export function parseStat(pid: number, text: string): ProcStat | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state), so field n is rest[n - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTicks = rest[19];
  if (!state || !startTicks || !Number.isInteger(ppid)) return null;
  return { pid, ppid, state, startTicks };
}

export function readStat(pid: number): ProcStat | null {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return null;
  }
}

let cachedBootId: string | undefined;
export function bootId(): string {
  cachedBootId ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  return cachedBootId;
}

export function identityOf(pid: number): ProcessIdentity | null {
  const stat = readStat(pid);
  return stat ? { pid, startTicks: stat.startTicks } : null;
}

const isDead = (stat: ProcStat | null) => !stat || stat.state === "Z" || stat.state === "X";

/** True while the process with this identity runs (not a zombie, not a reused pid). */
export function isRunning(identity: ProcessIdentity): boolean {
  const stat = readStat(identity.pid);
  return !isDead(stat) && stat?.startTicks === identity.startTicks;
}

export function isPidRunning(pid: number): boolean {
  return !isDead(readStat(pid));
}

export function allPids(): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);
}

/** Running children of `pid`. Scans /proc because the kernel's per-task `children` file
 *  needs CONFIG_PROC_CHILDREN, which not every host has. */
export function childrenOf(pid: number): number[] {
  return allPids().filter((child) => {
    const stat = readStat(child);
    return !isDead(stat) && stat?.ppid === pid;
  });
}

/** Every running process below `pid` (children, grandchildren, …), from one /proc scan. */
export function descendantsOf(pid: number): number[] {
  const childrenByParent = new Map<number, number[]>();
  for (const candidate of allPids()) {
    const stat = readStat(candidate);
    if (isDead(stat) || !stat) continue;
    const siblings = childrenByParent.get(stat.ppid) ?? [];
    siblings.push(candidate);
    childrenByParent.set(stat.ppid, siblings);
  }
  const found: number[] = [];
  const queue = [pid];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const child of childrenByParent.get(next) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** Real uid of a process, or null when it is gone. */
export function realUidOf(pid: number): number | null {
  try {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Uid:"));
    return line ? Number(line.split(/\s+/)[1]) : null;
  } catch {
    return null;
  }
}

/** Running (non-zombie) processes whose real uid is `uid`. */
export function runningPidsOfUid(uid: number): number[] {
  return runningPidsOfUids(new Set([uid]));
}

/** Running processes whose real uid is one of `uids` (one pass over /proc). */
export function runningPidsOfUids(uids: Set<number>): number[] {
  return allPids().filter((pid) => {
    const uid = realUidOf(pid);
    return uid !== null && uid !== undefined && uids.has(uid) && isPidRunning(pid);
  });
}

export function cmdlineOf(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    return raw ? raw.replace(/\0$/, "").split("\0") : [];
  } catch {
    return null;
  }
}

/** Running processes whose argv contains `sequence` contiguously (used to find a
 *  sandbox's bwrap processes by the marker in their command line). */
export function pidsWithArgs(sequence: string[]): number[] {
  return allPids().filter((pid) => {
    const argv = cmdlineOf(pid);
    if (!argv || argv.length < sequence.length || !isPidRunning(pid)) return false;
    for (let i = 0; i + sequence.length <= argv.length; i++) {
      if (sequence.every((arg, j) => argv[i + j] === arg)) return true;
    }
    return false;
  });
}

/** kill(2) that ignores "no such process" (the usual race with a process that just exited). */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}
