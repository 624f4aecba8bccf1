// Driving sandboxes through the API for the sandbox bench: create and wait until running,
// delete and wait until deleted, list, and keep track of every sandbox this run created
// so the cleanup can delete what is left (bench/sandboxes.ts).
import type { OutpostApi } from "../lib/api.ts";
import { sleep } from "../lib/cleanup.ts";

export const PROJECT = "bench";
const POLL_MS = 10;
const PHASE_TIMEOUT_MS = 60_000;

export type Log = (line: string) => void;

/** A sandbox resource, as far as this bench reads it. */
export interface Sandbox {
  id: string;
  phase: string;
  createdAt: string;
  stages: { name: string; state: string; startedAt?: string; endedAt?: string; message?: string }[];
  error?: { code: string; message: string } | null;
}

/** The sandboxes this run created and those known to be deleted. The cleanup sets
 *  `stopping` (Ctrl-C, a failure), which ends the loops that create or wait. */
export class Tracker {
  readonly created: string[] = [];
  readonly deleted = new Set<string>();
  stopping = false;

  live(): string[] {
    return this.created.filter((id) => !this.deleted.has(id));
  }

  check(): void {
    if (this.stopping) throw new Error("interrupted: the bench is cleaning up");
  }
}

export const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Polls GET /sandboxes/{id} until its phase is one of `phases` (or `failed`). */
export async function waitForPhase(api: OutpostApi, run: Tracker, id: string, phases: string[], timeoutMs = PHASE_TIMEOUT_MS): Promise<Sandbox> {
  const deadline = Date.now() + timeoutMs;
  let last: Sandbox | undefined;
  while (Date.now() < deadline) {
    run.check();
    last = await api.expect<Sandbox>(200, "GET", `/api/v1/sandboxes/${id}`);
    if (phases.includes(last.phase) || last.phase === "failed") return last;
    await sleep(POLL_MS);
  }
  throw new Error(`sandbox ${id} did not reach ${phases.join("|")} within ${timeoutMs} ms; last seen: ${JSON.stringify(last)}`);
}

export function failedText(sandbox: Sandbox): string {
  const stage = sandbox.stages.find((s) => s.state === "failed");
  return `sandbox ${sandbox.id} failed${stage ? ` in stage ${stage.name}` : ""}: ${JSON.stringify(sandbox.error)}${stage?.message ? `; stage message: ${stage.message}` : ""}`;
}

/** Creates a sandbox and waits until it runs; returns it, the latency, and the wall-clock
 *  times (Date.now(), comparable with the server's timestamps on this machine) of the POST
 *  and of the GET that first saw it running. */
export async function createRunning(
  api: OutpostApi,
  run: Tracker,
  project: string,
): Promise<{ sandbox: Sandbox; ms: number; postedAt: number; seenRunningAt: number }> {
  run.check();
  const postedAt = Date.now();
  const started = performance.now();
  const pending = await api.expect<Sandbox>(201, "POST", `/api/v1/projects/${project}/sandboxes`);
  run.created.push(pending.id);
  const sandbox = await waitForPhase(api, run, pending.id, ["running"]);
  const ms = performance.now() - started;
  const seenRunningAt = Date.now();
  if (sandbox.phase !== "running") throw new Error(failedText(sandbox));
  return { sandbox, ms, postedAt, seenRunningAt };
}

/** Deletes a sandbox and waits until it is `deleted`; returns the latency. */
export async function deleteDeleted(api: OutpostApi, run: Tracker, id: string): Promise<number> {
  const started = performance.now();
  await api.expect(202, "DELETE", `/api/v1/sandboxes/${id}`);
  const sandbox = await waitForPhase(api, run, id, ["deleted"]);
  const ms = performance.now() - started;
  if (sandbox.phase !== "deleted") throw new Error(`delete: ${failedText(sandbox)}`);
  run.deleted.add(id);
  return ms;
}

/** DELETE each sandbox, then poll the list until all are `deleted`; returns the ms taken. */
export async function deleteAll(api: OutpostApi, run: Tracker, project: string, ids: readonly string[]): Promise<number> {
  const started = performance.now();
  for (const id of ids) await api.expect(202, "DELETE", `/api/v1/sandboxes/${id}`);
  const deadline = Date.now() + Math.max(120_000, ids.length * 2_000);
  while (true) {
    const states = await listSandboxes(api, project, true);
    for (const id of ids) if (states.get(id)?.phase === "deleted") run.deleted.add(id);
    const left = ids.filter((id) => !run.deleted.has(id));
    if (left.length === 0) return performance.now() - started;
    if (Date.now() > deadline) {
      const phases = left.slice(0, 5).map((id) => `${id}: ${states.get(id)?.phase ?? "missing"} ${JSON.stringify(states.get(id)?.error ?? null)}`);
      throw new Error(
        `${left.length} of ${ids.length} sandboxes were not deleted ${((performance.now() - started) / 1000).toFixed(0)} s after DELETE (${phases.join("; ")})`,
      );
    }
    await sleep(250);
  }
}

/** Every sandbox of the project (all pages), by id. */
export async function listSandboxes(api: OutpostApi, project: string, includeDeleted: boolean): Promise<Map<string, Sandbox>> {
  const found = new Map<string, Sandbox>();
  let cursor: string | null = null;
  do {
    const query = `project=${project}&limit=500${includeDeleted ? "&includeDeleted=true" : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page: { items: Sandbox[]; nextCursor: string | null } = await api.expect(200, "GET", `/api/v1/sandboxes?${query}`);
    for (const item of page.items) found.set(item.id, item);
    cursor = page.nextCursor;
  } while (cursor);
  return found;
}
