// Reads the host's process table (Linux /proc) to find a container's processes: the bwrap
// monitor, bwrap's init in the new pid namespace and the container's own command below it.
// Zombies count as gone: they run nothing, and in a test machine whose pid 1 does not reap,
// orphans can stay zombies for a while.
import { readdirSync, readFileSync } from "node:fs";

interface ProcessEntry {
  pid: number;
  parent: number;
  state: string;
}

function readEntry(pid: number): ProcessEntry | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { pid, state: fields[0] ?? "", parent: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

function processTable(): ProcessEntry[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readEntry(Number(name)))
    .filter((entry): entry is ProcessEntry => entry !== undefined);
}

export function isAlive(pid: number): boolean {
  const entry = readEntry(pid);
  return entry !== undefined && entry.state !== "Z" && entry.state !== "X";
}

/** pid and every live process below it, parents before children. */
export function processTree(pid: number): number[] {
  const table = processTable().filter((entry) => entry.state !== "Z" && entry.state !== "X");
  const children = new Map<number, number[]>();
  for (const entry of table) children.set(entry.parent, [...(children.get(entry.parent) ?? []), entry.pid]);
  const tree: number[] = isAlive(pid) ? [pid] : [];
  for (let index = 0; index < tree.length; index++) tree.push(...(children.get(tree[index]!) ?? []));
  return tree;
}

/** The first live child of pid (bwrap's monitor and init each have exactly one). */
export function firstChild(pid: number): number | undefined {
  return processTable().find((entry) => entry.parent === pid && entry.state !== "Z" && entry.state !== "X")?.pid;
}
