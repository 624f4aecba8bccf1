// Environments for the bench, outside the timed parts: waiting for a warm pool to be full
// (GET /environments/{name} `warm`), for a build to end, and the memory of an idle pool.
// A pool member is a sandbox of the local driver (a folder with spec.json under
// <data dir>/sandboxes) that the API does not list (no project has it); its processes are
// the tree under the bwrap pid in its runtime.json.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { OutpostApi } from "../lib/api.ts";
import { sleep } from "../lib/cleanup.ts";
import { type TreeMemory, treeMemory } from "../lib/proc.ts";
import type { Tracker } from "../sandboxes/tracker.ts";

const POLL_MS = 20;

interface EnvironmentView {
  warm: { ready: number; starting: number };
}

/** Polls until the pool has at least `ready` members ready and none starting (a refill in
 *  flight would compete with the next measure for the CPUs). */
export async function waitWarm(api: OutpostApi, run: Tracker, environment: string, ready: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: EnvironmentView | undefined;
  while (Date.now() < deadline) {
    run.check();
    last = await api.expect<EnvironmentView>(200, "GET", `/api/v1/environments/${environment}`);
    if (last.warm.ready >= ready && last.warm.starting === 0) return;
    await sleep(POLL_MS);
  }
  throw new Error(`the pool of ${environment} did not reach ${ready} ready within ${timeoutMs} ms: ${JSON.stringify(last?.warm)}`);
}

/** Polls until the pool is empty (pool size 0: its members removed). */
export async function waitEmpty(api: OutpostApi, run: Tracker, environment: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: EnvironmentView | undefined;
  while (Date.now() < deadline) {
    run.check();
    last = await api.expect<EnvironmentView>(200, "GET", `/api/v1/environments/${environment}`);
    if (last.warm.ready === 0 && last.warm.starting === 0) return;
    await sleep(POLL_MS * 5);
  }
  throw new Error(`the pool of ${environment} was not emptied within ${timeoutMs} ms: ${JSON.stringify(last?.warm)}`);
}

/** POST …/builds, then polls the latest build until it ends; returns its wall time and whether it was cached. */
export async function buildEnvironment(api: OutpostApi, run: Tracker, environment: string, timeoutMs = 900_000): Promise<{ ms: number; cached: boolean }> {
  const started = performance.now();
  const build = await api.expect<{ id: string }>(202, "POST", `/api/v1/environments/${environment}/builds`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    run.check();
    const latest = await api.expect<{ id: string; state: string; cached: boolean; log: string; error: string | null }>(
      200,
      "GET",
      `/api/v1/environments/${environment}/builds/latest`,
    );
    if (latest.id === build.id && latest.state === "ready") return { ms: performance.now() - started, cached: latest.cached };
    if (latest.id === build.id && latest.state === "failed")
      throw new Error(`the build of ${environment} failed: ${latest.error ?? ""}; log: ${latest.log.slice(-1500)}`);
    await sleep(200);
  }
  throw new Error(`the build of ${environment} did not end within ${timeoutMs} ms`);
}

/** Every sandbox folder of the local driver (those with a spec.json), by id. */
export function driverSandboxes(dataDir: string): string[] {
  const root = join(dataDir, "sandboxes");
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((name) => existsSync(join(root, name, "spec.json")));
}

/** The ids of the sandboxes the API lists (all projects the admin has). */
async function listedSandboxes(api: OutpostApi): Promise<Set<string>> {
  const page = await api.expect<{ items: { id: string }[]; nextCursor: string | null }>(200, "GET", "/api/v1/sandboxes?limit=500");
  if (page.nextCursor) throw new Error("more than 500 sandboxes listed; the bench expects a handful");
  return new Set(page.items.map((item) => item.id));
}

export interface PoolMemory {
  /** One per member: its process tree under bwrap. */
  members: TreeMemory[];
}

/** The memory of each pool member now (the caller lets them settle first). */
export async function poolMemory(api: OutpostApi, dataDir: string): Promise<PoolMemory> {
  const listed = await listedSandboxes(api);
  const members: TreeMemory[] = [];
  for (const id of driverSandboxes(dataDir).filter((id) => !listed.has(id))) {
    const runtime = JSON.parse(readFileSync(join(dataDir, "sandboxes", id, "runtime.json"), "utf8")) as { bwrap?: { pid?: number } };
    const pid = runtime.bwrap?.pid;
    if (!Number.isInteger(pid)) throw new Error(`pool member ${id}: runtime.json names no bwrap pid`);
    const memory = treeMemory(pid!);
    if (memory.processes === 0) throw new Error(`pool member ${id}: its bwrap (pid ${pid}) is gone`);
    members.push(memory);
  }
  return { members };
}
