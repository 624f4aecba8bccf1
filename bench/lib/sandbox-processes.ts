// Finding the host processes of Outpost sandboxes, and killing what a failed run left.
// A sandbox of the local driver is a bwrap process (the child of the control plane) whose
// visible command line carries `--setenv OUTPOST_SANDBOX <sandbox id>@<root hash>`; its
// child, also bwrap, is pid 1 of the sandbox's pid namespace, and everything inside (the
// supervisor `node /opt/outpost/supervisor.js`, commands) descends from it. Sandbox ids are
// random, so the marker names exactly this run's sandboxes, whereas host uids (200000+)
// are handed out per data dir: another control plane on the machine (a test run) uses the
// same uids, so a uid alone never selects a process to kill here.
import { readdirSync, readFileSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./cleanup.ts";
import { isAlive } from "./proc.ts";

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Real uid. */
  uid: number;
  cmdline: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** Every live, non-zombie process with its parent, real uid and command line (one /proc scan). */
export function processTable(): Map<number, ProcessInfo> {
  const table = new Map<number, ProcessInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const status = readText(`/proc/${entry}/status`);
    const cmdline = readText(`/proc/${entry}/cmdline`);
    if (status === undefined || cmdline === undefined || /^State:\s+Z/m.test(status)) continue;
    const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    table.set(Number(entry), { pid: Number(entry), ppid, uid, cmdline: cmdline.split("\0").join(" ").trim() });
  }
  return table;
}

export const SUPERVISOR_COMMAND = "/opt/outpost/supervisor.js";

export interface SandboxProcesses {
  sandboxId: string;
  /** The marker bwrap processes and all their descendants. */
  pids: number[];
  /** The `node /opt/outpost/supervisor.js` process, if found. */
  supervisor?: ProcessInfo;
  /** Real uids seen among the processes (the sandbox's host uid when Outpost runs as root). */
  uids: number[];
}

/** The processes of each given sandbox, from one process table. */
export function sandboxProcesses(sandboxIds: readonly string[], table = processTable()): Map<string, SandboxProcesses> {
  const children = new Map<number, number[]>();
  for (const info of table.values()) {
    const list = children.get(info.ppid) ?? [];
    list.push(info.pid);
    children.set(info.ppid, list);
  }
  const wanted = new Set(sandboxIds);
  const roots = new Map<string, number[]>();
  for (const info of table.values()) {
    const match = /OUTPOST_SANDBOX (\S+)@/.exec(info.cmdline);
    if (!match || !wanted.has(match[1]!)) continue;
    // Only the outermost marker process of a chain is a root; its marker child comes along.
    const parent = table.get(info.ppid);
    if (parent?.cmdline.includes(`OUTPOST_SANDBOX ${match[1]}@`)) continue;
    roots.set(match[1]!, [...(roots.get(match[1]!) ?? []), info.pid]);
  }
  const result = new Map<string, SandboxProcesses>();
  for (const id of sandboxIds) {
    const pids: number[] = [];
    const queue = [...(roots.get(id) ?? [])];
    while (queue.length) {
      const pid = queue.shift()!;
      pids.push(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    const infos = pids.map((pid) => table.get(pid)!);
    result.set(id, {
      sandboxId: id,
      pids,
      supervisor: infos.find((info) => info.cmdline.includes(SUPERVISOR_COMMAND) && !info.cmdline.includes("OUTPOST_SANDBOX")),
      uids: [...new Set(infos.map((info) => info.uid))],
    });
  }
  return result;
}

/** Pids whose cgroup path ends in one of the sandbox ids (the driver's `<hierarchy>/outpost/<id>`). */
function pidsInSandboxCgroups(sandboxIds: readonly string[]): number[] {
  const wanted = new Set(sandboxIds);
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cgroups = readText(`/proc/${entry}/cgroup`) ?? "";
    if (cgroups.split("\n").some((line) => wanted.has(line.slice(line.lastIndexOf("/") + 1)))) found.push(Number(entry));
  }
  return found;
}

/** Every live process of these sandboxes, by marker and by cgroup. */
export function leftoverPids(sandboxIds: readonly string[]): number[] {
  if (sandboxIds.length === 0) return [];
  const byMarker = [...sandboxProcesses(sandboxIds).values()].flatMap((s) => s.pids);
  return [...new Set([...byMarker, ...pidsInSandboxCgroups(sandboxIds)])].filter(isAlive);
}

/**
 * SIGKILLs every process of these sandboxes (killing a pid namespace's pid 1 takes the
 * whole namespace with it) until none is left or `timeoutMs` passes, then removes their
 * now empty cgroup folders. Returns the pids that were found alive at the start.
 */
export async function killSandboxes(sandboxIds: readonly string[], timeoutMs = 10_000): Promise<number[]> {
  const first = leftoverPids(sandboxIds);
  const deadline = Date.now() + timeoutMs;
  let left = first;
  while (left.length) {
    for (const pid of left) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    if (Date.now() > deadline) throw new Error(`processes ${left.join(", ")} of sandboxes survived SIGKILL for ${timeoutMs} ms`);
    await sleep(50);
    left = leftoverPids(sandboxIds);
  }
  removeSandboxCgroups(sandboxIds);
  return first;
}

/** Removes `<hierarchy>/outpost/<id>` under /sys/fs/cgroup (v2 or each v1 controller) when it exists and is empty. */
function removeSandboxCgroups(sandboxIds: readonly string[]): void {
  const bases = ["/sys/fs/cgroup/outpost"];
  try {
    for (const entry of readdirSync("/sys/fs/cgroup")) bases.push(join("/sys/fs/cgroup", entry, "outpost"));
  } catch {
    return;
  }
  for (const base of bases) {
    for (const id of sandboxIds) {
      try {
        rmdirSync(join(base, id));
      } catch {}
    }
  }
}
