// Idle memory of the control plane and its embedded PostgreSQL: start into a fresh data dir,
// wait for /readyz, let it settle for a few seconds, then read PSS (and USS, RSS) of the
// control plane's node process and of the postmaster with all its children. Then the same
// after a graceful stop and a restart on that data dir (PGlite's reopen counterpart).
import { rmSync } from "node:fs";
import { sleep } from "./lib/cleanup.ts";
import { benchDataDir, type ControlPlane, postmasterPid, startTimed, stopGracefully } from "./lib/outpost.ts";
import { type TreeMemory, treeMemory } from "./lib/proc.ts";

export interface IdleMemory {
  controlPlane: TreeMemory;
  database: TreeMemory;
}

export interface MemoryResults {
  idleMs: number;
  afterColdStart: IdleMemory;
  afterRestart: IdleMemory;
}

async function idleMemory(plane: ControlPlane, idleMs: number): Promise<IdleMemory> {
  await sleep(idleMs);
  const postmaster = postmasterPid(plane.dataDir);
  if (postmaster === undefined) throw new Error("no postmaster found for the running control plane");
  // The postmaster is normally reparented away from the control plane; pruning it keeps
  // the two sums apart even where a subreaper would make it a descendant.
  return { controlPlane: treeMemory(plane.pid, [postmaster]), database: treeMemory(postmaster) };
}

export async function benchControlPlaneMemory(idleMs = 3_000): Promise<MemoryResults> {
  const dir = benchDataDir();
  const cold = await startTimed(dir);
  const afterColdStart = await idleMemory(cold.plane, idleMs);
  await stopGracefully(cold.plane);
  const warm = await startTimed(dir);
  const afterRestart = await idleMemory(warm.plane, idleMs);
  await stopGracefully(warm.plane);
  rmSync(dir, { recursive: true, force: true });
  return { idleMs, afterColdStart, afterRestart };
}
