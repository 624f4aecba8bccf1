// Sandboxes of the local driver, driven through the API of a control plane that runs as a
// child process (`node bin/outpost.js serve`, so its memory is its own), next to baselines
// measured in the same run. By concern, under bench/sandboxes/:
//   peers.ts      the bare bwrap commands of the comparisons: `/bin/true`, and starting the
//                 sandboxes' Node (`node -e 0`, + `require('node:http2')`, + the supervisor
//                 bundle); `srt -c true` (Anthropic's sandbox-runtime). The issue's
//                 yardsticks run in turn with the figure they judge: a bare bwrap starting
//                 Node after each create, /bin/true after each exec, the streamed command
//                 on the host between streams
//   lifecycle.ts  create → running and delete → deleted, one sandbox at a time, with where
//                 create → running goes (stages, the supervisor's own start)
//   exec.ts       `true` through POST /exec (JSON) in a running sandbox, next to the same
//                 over the link alone and a plain GET (the API alone)
//   stream.ts     N bytes through the same exec as binary frames (fetch, node:http), as SSE
//                 (base64), over the link alone, and on the host into a pipe
//   link.ts       the local driver in this process: create → connected, `true` and the
//                 stream over the supervisor link alone, without the API and the database
//   memory.ts     the supervisor of an idle sandbox; the control plane with 0 and with many
//                 idle running sandboxes (one supervisor link each), and all the sandboxes'
//                 processes together
//   tracker.ts    the API calls that create, wait for and delete sandboxes
// Every sandbox it creates is deleted through the API before the control plane is stopped;
// on failure or Ctrl-C a cleanup deletes what is left, then SIGKILLs any process of this
// run's sandboxes (found by their bwrap marker and cgroup, never by uid alone).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { benchDataDir, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { commandOutput } from "./lib/peers.ts";
import { killSandboxes, leftoverPids, processTable } from "./lib/sandbox-processes.ts";
import { type ExecResults, emptyExecResults, measureExec } from "./sandboxes/exec.ts";
import { emptyLifecycle, type LifecycleResults, measureLifecycle } from "./sandboxes/lifecycle.ts";
import { emptyLinkResults, type LinkAloneResults, LinkBench } from "./sandboxes/link.ts";
import { type LoadedResults, measureLoaded, type PlaneMemory, planeMemory } from "./sandboxes/memory.ts";
import type { SandboxBenchOptions } from "./sandboxes/options.ts";
import { measurePeers, type PeerResults } from "./sandboxes/peers.ts";
import { deleteAll, describe, type Log, PROJECT, type Sandbox, Tracker } from "./sandboxes/tracker.ts";

export { OPTION_ENV, type SandboxBenchOptions, sandboxBenchOptions } from "./sandboxes/options.ts";

export interface SandboxResults {
  options: SandboxBenchOptions;
  nodeVersion: string;
  bwrapVersion: string;
  /** The Node inside the sandboxes (/opt/outpost/bin/node). */
  sandboxNodeVersion: string;
  peers: PeerResults;
  start?: { ms: number };
  planeFresh?: PlaneMemory;
  planeAfterTests?: PlaneMemory;
  lifecycle: LifecycleResults;
  exec: ExecResults;
  /** The local driver and the supervisor link in this process, without the API. */
  link: LinkAloneResults;
  loaded: LoadedResults;
  /** Processes of this run's sandboxes still alive after the control plane stopped (should be 0). */
  leftovers: number;
  /** Processes under the sandbox uid range (200000–299999) that belong to other control planes. */
  foreignSandboxProcesses: number;
  graceful: boolean;
}

/** Room for the idle sandboxes (plus the few of the other tests): the installation's caps
 *  count memory limits, which idle sandboxes are far below (limits are ceilings). */
function capacityEnv(options: SandboxBenchOptions): Record<string, string> {
  const sandboxes = options.idleSandboxes + 8;
  return { OUTPOST_MAX_SANDBOXES: String(Math.max(64, sandboxes)), OUTPOST_MAX_SANDBOX_MEMORY_MB: String(sandboxes * SANDBOX_MEMORY_MB) };
}

/** The control plane's default memory limit per sandbox (OUTPOST_SANDBOX_MEMORY_MB). */
const SANDBOX_MEMORY_MB = 4096;

export async function benchSandboxes(options: SandboxBenchOptions, log: Log = () => {}): Promise<SandboxResults> {
  for (const file of ["dist/outpost.js", "dist/supervisor.js", "dist/opt-outpost/supervisor.js", "dist/opt-outpost/bin/node"]) {
    if (!existsSync(join(REPO_ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does)`);
  }
  const results: SandboxResults = {
    options,
    nodeVersion: process.version,
    bwrapVersion: (await commandOutput("bwrap", ["--version"])) || "?",
    sandboxNodeVersion: (await commandOutput(join(REPO_ROOT, "dist/opt-outpost/bin/node"), ["--version"])) || "?",
    peers: await measurePeers(options, log),
    lifecycle: emptyLifecycle(),
    exec: emptyExecResults(),
    link: emptyLinkResults(),
    loaded: { requested: options.idleSandboxes, running: 0, requestedMs: 0, allRunningMs: 0, failures: [], supervisorsPssKb: [] },
    leftovers: 0,
    foreignSandboxProcesses: 0,
    graceful: false,
  };
  const dir = benchDataDir("outpost-bench-sbx-");
  const { plane, ms } = await startTimed(dir, capacityEnv(options));
  results.start = { ms };
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const api = new OutpostApi(plane.url, token);

  // On failure or Ctrl-C: stop creating, delete what is left through the API while the
  // control plane still runs (the cleanup of the control plane comes after this one), then
  // kill whatever of this run's sandboxes survived.
  const run = new Tracker();
  let link: LinkBench | undefined;
  const cleanupDone = deferCleanup("sandboxes of the sandbox bench", async () => {
    run.stopping = true;
    const asked = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (run.live().length && plane.child.exitCode === null && Date.now() < deadline) {
      const fresh = run.live().filter((id) => !asked.has(id));
      if (fresh.length) process.stderr.write(`bench: deleting ${fresh.length} sandbox(es) through the API...\n`);
      for (const id of fresh) asked.add(id);
      await Promise.allSettled(fresh.map((id) => api.call("DELETE", `/api/v1/sandboxes/${id}`)));
      await sleep(250);
      const states = await Promise.all(run.live().map((id) => api.call<Sandbox>("GET", `/api/v1/sandboxes/${id}`).catch(() => undefined)));
      for (const state of states) if (state?.status === 200 && state.body.phase === "deleted") run.deleted.add(state.body.id);
    }
    const killed = await killSandboxes(run.created);
    if (killed.length) process.stderr.write(`bench: killed ${killed.length} leftover process(es) of this run's sandboxes\n`);
    api.close();
  });

  try {
    const project = PROJECT;
    await api.expect(201, "POST", "/api/v1/projects", { name: project });

    await sleep(options.idleMs);
    results.planeFresh = planeMemory(plane);
    log(`control plane ready in ${ms.toFixed(0)} ms; idle memory read`);

    // The local driver in this process, for the figures of the link alone.
    link = new LinkBench();
    results.link = link.results;
    // 1. Lifecycle latencies, one sandbox at a time.
    results.lifecycle = await measureLifecycle(api, run, project, dir, options, link, log);
    // 2–4. One sandbox for exec, streams and the supervisor's memory.
    results.exec = await measureExec(api, run, plane, project, options, link, log);
    await link.close();
    // 5. Many idle sandboxes: all created at once, then memory once they all run.
    await sleep(options.idleMs);
    results.planeAfterTests = planeMemory(plane);
    if (options.idleSandboxes > 0) await measureLoaded(api, run, plane, project, options, results.loaded, log);
  } finally {
    // Interrupted: the cleanup deletes, then the control plane's cleanup kills it.
    if (!run.stopping) {
      await link?.close().catch((error) => results.link.failures.push(`closing the local driver: ${describe(error)}`));
      // Normally nothing is left here; after a failure, everything still goes through the API.
      if (run.live().length) {
        await deleteAll(api, run, PROJECT, run.live()).catch((error) => results.loaded.failures.push(`final delete: ${describe(error)}`));
      }
      await stopGracefully(plane).then(
        () => {
          results.graceful = true;
        },
        (error) => log(`graceful stop failed: ${describe(error)}`),
      );
      const leftovers = new Set(leftoverPids(run.created));
      results.leftovers = leftovers.size;
      results.foreignSandboxProcesses = [...processTable().values()].filter((p) => p.uid >= 200_000 && p.uid <= 299_999 && !leftovers.has(p.pid)).length;
      cleanupDone();
      await killSandboxes(run.created);
      api.close();
    }
  }
  return results;
}
