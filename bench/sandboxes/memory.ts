// Memory of the sandbox bench: the control plane's node process and its database, one
// supervisor, and the control plane with many idle running sandboxes (each holding one
// supervisor link: a unix socket carrying an HTTP/2 session), all created at once.
import type { OutpostApi } from "../lib/api.ts";
import { sleep } from "../lib/cleanup.ts";
import { type ControlPlane, postmasterPid } from "../lib/outpost.ts";
import { type Memory, processMemory, type TreeMemory, treeMemory } from "../lib/proc.ts";
import { type SandboxProcesses, sandboxProcesses } from "../lib/sandbox-processes.ts";
import type { SandboxBenchOptions } from "./options.ts";
import { deleteAll, describe, failedText, type Log, listSandboxes, type Sandbox, type Tracker } from "./tracker.ts";

export interface PlaneMemory {
  controlPlane: Memory;
  database: TreeMemory;
}

export interface SupervisorMemory {
  supervisor: Memory;
  /** The whole sandbox: both bwrap processes, the supervisor, anything else inside. */
  sandbox: TreeMemory;
  uids: number[];
}

export interface LoadedResults {
  requested: number;
  running: number;
  /** The POSTs, one after the other, while the first sandboxes were already being provisioned. */
  requestedMs: number;
  /** POST of the first until every sandbox was running (or had failed / timed out). */
  allRunningMs: number;
  failures: string[];
  plane?: PlaneMemory;
  /** Every process of the running sandboxes (bwrap ×2, supervisor, …), summed. */
  sandboxes?: TreeMemory;
  supervisorsPssKb: number[];
  /** DELETE of each until all were deleted. */
  allDeletedMs?: number;
}

/** The control plane's own node process (its children are the sandboxes' outer bwrap
 *  processes, counted with the sandboxes) and its database (postmaster and children). */
export function planeMemory(plane: ControlPlane): PlaneMemory {
  const postmaster = postmasterPid(plane.dataDir);
  if (postmaster === undefined) throw new Error("no postmaster found for the running control plane");
  const own = processMemory(plane.pid);
  if (!own) throw new Error(`the control plane ${plane.pid} is gone`);
  return { controlPlane: own, database: treeMemory(postmaster) };
}

export function sumMemory(pids: number[]): TreeMemory {
  const total: TreeMemory = { pssKb: 0, ussKb: 0, rssKb: 0, peakRssKb: 0, processes: 0 };
  for (const pid of pids) {
    const memory = processMemory(pid);
    if (!memory) continue;
    total.pssKb += memory.pssKb;
    total.ussKb += memory.ussKb;
    total.rssKb += memory.rssKb;
    total.peakRssKb += memory.peakRssKb;
    total.processes++;
  }
  return total;
}

export function supervisorMemory(found: SandboxProcesses | undefined): SupervisorMemory | undefined {
  if (!found?.supervisor) return undefined;
  const supervisor = processMemory(found.supervisor.pid);
  if (!supervisor) return undefined;
  return { supervisor, sandbox: sumMemory(found.pids), uids: found.uids };
}

/** Creates `idleSandboxes` sandboxes at once, waits until they run, lets them idle, reads
 *  the memory, then deletes them all at once. */
export async function measureLoaded(
  api: OutpostApi,
  run: Tracker,
  plane: ControlPlane,
  project: string,
  options: SandboxBenchOptions,
  loaded: LoadedResults,
  log: Log,
): Promise<void> {
  const ids: string[] = [];
  const started = performance.now();
  for (let i = 0; i < options.idleSandboxes; i++) {
    run.check();
    try {
      const sandbox = await api.expect<Sandbox>(201, "POST", `/api/v1/projects/${project}/sandboxes`);
      ids.push(sandbox.id);
      run.created.push(sandbox.id);
    } catch (error) {
      loaded.failures.push(`create ${i + 1}: ${describe(error)}`);
      if (loaded.failures.length >= 3) break;
    }
  }
  loaded.requestedMs = performance.now() - started;
  log(`${ids.length} sandboxes requested in ${loaded.requestedMs.toFixed(0)} ms; waiting until they run`);

  // Poll the list (one request for all) until every sandbox is running or failed.
  const deadline = Date.now() + Math.max(120_000, options.idleSandboxes * 2_000);
  let phases = new Map<string, Sandbox>();
  let lastLog = Date.now();
  while (true) {
    run.check();
    phases = await listSandboxes(api, project, false);
    const settled = ids.filter((id) => ["running", "failed"].includes(phases.get(id)?.phase ?? ""));
    if (settled.length === ids.length) break;
    if (Date.now() > deadline) {
      loaded.failures.push(
        `${ids.length - settled.length} of ${ids.length} sandboxes were neither running nor failed after ${(performance.now() - started) / 1000} s`,
      );
      break;
    }
    if (Date.now() - lastLog > 10_000) {
      log(`${settled.length}/${ids.length} running or failed`);
      lastLog = Date.now();
    }
    await sleep(100);
  }
  loaded.allRunningMs = performance.now() - started;
  const running = ids.filter((id) => phases.get(id)?.phase === "running");
  loaded.running = running.length;
  const failed = ids.map((id) => phases.get(id)).filter((s): s is Sandbox => s?.phase === "failed");
  if (failed.length) {
    loaded.failures.push(`${failed.length} of ${ids.length} sandboxes failed; first: ${failedText(failed[0]!)}`);
    const codes = new Map<string, number>();
    for (const s of failed) codes.set(s.error?.code ?? "?", (codes.get(s.error?.code ?? "?") ?? 0) + 1);
    loaded.failures.push(`failure codes: ${[...codes].map(([code, n]) => `${code} ×${n}`).join(", ")}`);
  }
  log(`${running.length}/${ids.length} running after ${(loaded.allRunningMs / 1000).toFixed(1)} s; idling ${options.idleMs / 1000} s`);

  await sleep(options.idleMs);
  const found = sandboxProcesses(running);
  loaded.plane = planeMemory(plane);
  loaded.sandboxes = sumMemory([...found.values()].flatMap((s) => s.pids));
  for (const sandbox of found.values()) {
    const memory = sandbox.supervisor ? processMemory(sandbox.supervisor.pid) : undefined;
    if (memory) loaded.supervisorsPssKb.push(memory.pssKb);
  }
  const missing = [...found.values()].filter((s) => !s.supervisor).length;
  if (missing) loaded.failures.push(`${missing} running sandbox(es) had no supervisor process on the host`);

  try {
    loaded.allDeletedMs = await deleteAll(api, run, project, ids);
  } catch (error) {
    loaded.failures.push(describe(error));
    return;
  }
  log(`all ${ids.length} deleted in ${(loaded.allDeletedMs / 1000).toFixed(1)} s`);
}
