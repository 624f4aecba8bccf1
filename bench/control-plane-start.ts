// Start-up of the control plane with its embedded PostgreSQL, from spawning
// `node bin/outpost.js serve` until GET /readyz answers 200:
//   cold      a fresh data dir each time: initdb + start + migrate + listen
//   warm      the same data dir after a graceful stop (SIGTERM also stops the database)
//   adopting  after kill -9 of the control plane; the database kept running and is adopted
// Graceful stops (SIGTERM until exit, database included) are timed along the way.
// Baselines, measured in turn with the starts they compare to:
//   database alone  what the control plane waits for at the least: the same EmbeddedPostgres
//                   code in this (already loaded) process, initdb on a fresh dir or start on
//                   the stopped warm dir, then the outpost database and a first query
//   node -e 0       starting Node itself
// The goals (issue "Control plane ready for many features and many users"): warm restart
// ≤ 0.5 s, cold first start ≤ 1.5 s.
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { ensureDataDir } from "../src/config/data-dir.ts";
import { ensureDbAccount, runningAsRoot } from "../src/db/account.ts";
import { locatePgBinaries } from "../src/db/binaries.ts";
import { EmbeddedPostgres } from "../src/db/embedded.ts";
import { ms, ratio, table, timing } from "./lib/format.ts";
import { benchDataDir, killHard, postmasterPid, startTimed, stopGracefully, stopPostmaster } from "./lib/outpost.ts";
import { summarize } from "./lib/stats.ts";

export const WARM_GOAL_MS = 500;
export const COLD_GOAL_MS = 1500;

export interface StartResults {
  coldMs: number[];
  warmMs: number[];
  adoptMs: number[];
  gracefulStopMs: number[];
  /** Baselines: the database alone on a fresh dir (initdb included) and on the warm dir. */
  databaseColdMs: number[];
  databaseWarmMs: number[];
  nodeMs: number[];
}

/** The database as the control plane starts it, alone, in this process; stopped again. */
async function databaseAlone(dataDir: string): Promise<number> {
  const started = performance.now();
  ensureDataDir(dataDir, runningAsRoot());
  const server = new EmbeddedPostgres({ dir: join(dataDir, "postgres"), binaries: locatePgBinaries(undefined), account: ensureDbAccount() });
  await server.start();
  await server.ensureDatabase("outpost");
  const client = new pg.Client(server.connectionFor("outpost"));
  await client.connect();
  await client.query("select 1");
  await client.end();
  const elapsed = performance.now() - started;
  await server.stop();
  return elapsed;
}

/** `node -e 0` from spawn to exit. */
async function nodeAlone(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
  await new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  return performance.now() - started;
}

export async function benchControlPlaneStart(runs = 5, log: (line: string) => void = () => {}): Promise<StartResults> {
  const results: StartResults = { coldMs: [], warmMs: [], adoptMs: [], gracefulStopMs: [], databaseColdMs: [], databaseWarmMs: [], nodeMs: [] };

  // Cold: a fresh data dir per run; the first one is kept for the warm restarts.
  let warmDir: string | undefined;
  for (let i = 0; i < runs; i++) {
    const dir = benchDataDir();
    const { plane, ms: startMs } = await startTimed(dir);
    results.coldMs.push(startMs);
    results.gracefulStopMs.push(await stopGracefully(plane));
    const baselineDir = benchDataDir();
    const databaseMs = await databaseAlone(baselineDir);
    rmSync(baselineDir, { recursive: true, force: true });
    results.databaseColdMs.push(databaseMs);
    results.nodeMs.push(await nodeAlone());
    log(`cold start ${i + 1}/${runs}: ${ms(startMs)}; database alone, initdb included: ${ms(databaseMs)}`);
    if (warmDir === undefined) warmDir = dir;
    else rmSync(dir, { recursive: true, force: true });
  }

  // Warm: same data dir, each start after a graceful stop (no postmaster left); the
  // database alone on the same dir in turn.
  for (let i = 0; i < runs; i++) {
    const dir = warmDir!;
    if (postmasterPid(dir) !== undefined) throw new Error("a postmaster still runs before a warm start");
    const { plane, ms: startMs } = await startTimed(dir);
    results.warmMs.push(startMs);
    results.gracefulStopMs.push(await stopGracefully(plane));
    const databaseMs = await databaseAlone(dir);
    results.databaseWarmMs.push(databaseMs);
    results.nodeMs.push(await nodeAlone());
    log(`warm restart ${i + 1}/${runs}: ${ms(startMs)}; database alone: ${ms(databaseMs)}`);
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
      log(`adopting restart ${i + 1}/${runs}: ${ms(started.ms)}`);
    }
    results.gracefulStopMs.push(await stopGracefully(plane));
  } finally {
    await killHard(plane);
    await stopPostmaster(dir);
  }
  rmSync(dir, { recursive: true, force: true });
  return results;
}

/** The starts next to their baselines and goals (printed after the control-plane summary). */
export function startGoalsReport(results: StartResults): string {
  const node = summarize(results.nodeMs);
  const row = (label: string, starts: number[], database: number[], goalMs: number) => {
    const start = summarize(starts);
    const alone = summarize(database);
    return [
      label,
      timing(start),
      timing(alone),
      ratio(start.median, alone.median),
      ms(start.median - alone.median),
      `≤ ${ms(goalMs)}: ${start.median <= goalMs ? "met" : "NOT met"}`,
    ];
  };
  return [
    "",
    `Start-up until /readyz 200 vs the database alone (same EmbeddedPostgres code in the bench process) and node -e 0, N=${results.warmMs.length} each, in turn`,
    table([
      ["median (min–max)", "control plane", "database alone", "× database", "− database", "goal"],
      row("cold start, fresh data dir (initdb included)", results.coldMs, results.databaseColdMs, COLD_GOAL_MS),
      row("warm restart after a graceful stop", results.warmMs, results.databaseWarmMs, WARM_GOAL_MS),
      ["node -e 0 (starting Node itself)", timing(node), "", "", "", ""],
    ]),
    "  − database: what the control plane adds to the database's own start (Node, loading its modules, migrations, HTTP), medians",
    "",
  ].join("\n");
}
