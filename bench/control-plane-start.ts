// Start-up of the control plane with its embedded PostgreSQL, from spawning
// `node bin/outpost.js serve` until GET /readyz answers 200:
//   cold      a fresh data dir each time: initdb + start + migrate + listen
//   warm      the same data dir after a graceful stop (SIGTERM also stops the database)
//   adopting  after kill -9 of the control plane; the database kept running and is adopted
// Graceful stops (SIGTERM until exit, database included) are timed along the way.
import { rmSync } from "node:fs";
import { benchDataDir, killHard, postmasterPid, startTimed, stopGracefully, stopPostmaster } from "./lib/outpost.ts";

export interface StartResults {
  coldMs: number[];
  warmMs: number[];
  adoptMs: number[];
  gracefulStopMs: number[];
}

export async function benchControlPlaneStart(runs = 5, log: (line: string) => void = () => {}): Promise<StartResults> {
  const results: StartResults = { coldMs: [], warmMs: [], adoptMs: [], gracefulStopMs: [] };

  // Cold: a fresh data dir per run; the first one is kept for the warm restarts.
  let warmDir: string | undefined;
  for (let i = 0; i < runs; i++) {
    const dir = benchDataDir();
    const { plane, ms } = await startTimed(dir);
    results.coldMs.push(ms);
    results.gracefulStopMs.push(await stopGracefully(plane));
    log(`cold start ${i + 1}/${runs}: ${ms.toFixed(0)} ms`);
    if (warmDir === undefined) warmDir = dir;
    else rmSync(dir, { recursive: true, force: true });
  }

  // Warm: same data dir, each start after a graceful stop (no postmaster left).
  for (let i = 0; i < runs; i++) {
    const dir = warmDir!;
    if (postmasterPid(dir) !== undefined) throw new Error("a postmaster still runs before a warm start");
    const { plane, ms } = await startTimed(dir);
    results.warmMs.push(ms);
    results.gracefulStopMs.push(await stopGracefully(plane));
    log(`warm restart ${i + 1}/${runs}: ${ms.toFixed(0)} ms`);
  }

  // Adopting: kill -9 the control plane, the postmaster stays, the next start adopts it.
  const dir = warmDir!;
  let { plane } = await startTimed(dir);
  const postmaster = postmasterPid(dir);
  if (postmaster === undefined) throw new Error("no postmaster found after the control plane became ready");
  try {
    for (let i = 0; i < runs; i++) {
      await killHard(plane);
      if (postmasterPid(dir) !== postmaster) throw new Error(`the postmaster ${postmaster} did not survive kill -9 of the control plane`);
      const started = await startTimed(dir);
      plane = started.plane;
      if (postmasterPid(dir) !== postmaster) throw new Error(`the restarted control plane did not adopt postmaster ${postmaster}`);
      results.adoptMs.push(started.ms);
      log(`adopting restart ${i + 1}/${runs}: ${started.ms.toFixed(0)} ms`);
    }
    results.gracefulStopMs.push(await stopGracefully(plane));
  } finally {
    await killHard(plane);
    await stopPostmaster(dir);
  }
  rmSync(dir, { recursive: true, force: true });
  return results;
}
