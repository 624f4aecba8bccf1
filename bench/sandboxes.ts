// Sandboxes of the local driver, driven through the API of a control plane that runs as a
// child process (`node bin/outpost.js serve`, so its memory is its own), next to baselines
// measured in the same run:
//   peers      a bare `bwrap … /bin/true`, `srt -c true` (Anthropic's sandbox-runtime),
//              and the streamed command run straight on the host into a pipe
//   lifecycle  create → running and delete → deleted, one sandbox at a time
//   exec       `true` through POST /exec (JSON), and 100 MB through the SSE stream
//   memory     the supervisor of an idle sandbox; the control plane with 0 and with many
//              idle running sandboxes, and all the sandboxes' processes together
// Every sandbox it creates is deleted through the API before the control plane is stopped;
// on failure or Ctrl-C a cleanup deletes what is left, then SIGKILLs any process of this
// run's sandboxes (found by their bwrap marker and cgroup, never by uid alone).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { clockTicks, cpuSeconds } from "./lib/cpu.ts";
import { benchDataDir, type ControlPlane, postmasterPid, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { BARE_BWRAP_ARGS, commandOutput, findSrt, firstLine, srtArgs, timedSpawn } from "./lib/peers.ts";
import { type Memory, processMemory, type TreeMemory, treeMemory } from "./lib/proc.ts";
import { killSandboxes, leftoverPids, processTable, type SandboxProcesses, sandboxProcesses } from "./lib/sandbox-processes.ts";

export interface SandboxBenchOptions {
  /** Sequential create → running → delete → deleted cycles. */
  lifecycleRuns: number;
  execRuns: number;
  bwrapRuns: number;
  srtRuns: number;
  streamRuns: number;
  streamBytes: number;
  /** Idle running sandboxes for the memory reading. */
  idleSandboxes: number;
  /** Quiet time before each memory reading. */
  idleMs: number;
}

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}, not '${raw}'`);
  return value;
}

/** Defaults, each overridable by an environment variable. */
export function sandboxBenchOptions(): SandboxBenchOptions {
  return {
    lifecycleRuns: envInt("OUTPOST_BENCH_LIFECYCLE_RUNS", 30, 1),
    execRuns: envInt("OUTPOST_BENCH_EXEC_RUNS", 100, 1),
    bwrapRuns: envInt("OUTPOST_BENCH_BWRAP_RUNS", 30, 1),
    srtRuns: envInt("OUTPOST_BENCH_SRT_RUNS", 20, 1),
    streamRuns: envInt("OUTPOST_BENCH_STREAM_RUNS", 3, 1),
    streamBytes: envInt("OUTPOST_BENCH_STREAM_BYTES", 100_000_000, 1),
    idleSandboxes: envInt("OUTPOST_BENCH_SANDBOXES", 100, 0),
    idleMs: envInt("OUTPOST_BENCH_IDLE_MS", 5_000, 0),
  };
}

export const OPTION_ENV = [
  "OUTPOST_BENCH_LIFECYCLE_RUNS",
  "OUTPOST_BENCH_EXEC_RUNS",
  "OUTPOST_BENCH_BWRAP_RUNS",
  "OUTPOST_BENCH_SRT_RUNS",
  "OUTPOST_BENCH_STREAM_RUNS",
  "OUTPOST_BENCH_STREAM_BYTES",
  "OUTPOST_BENCH_SANDBOXES",
  "OUTPOST_BENCH_IDLE_MS",
];

export interface PeerResults {
  bwrapMs: number[];
  bwrapError?: string;
  srt: { version: string; node: string; nodeVersion: string; ms: number[] } | { error: string };
  /** The stream's command on the host: stdout read by this node process / by `wc -c`. */
  hostPipeMs: number[];
  hostWcMs: number[];
}

export interface LifecycleResults {
  createMs: number[];
  deleteMs: number[];
  /** Server-side, from the resource's timestamps: createdAt → first stage, then each stage. */
  stagesMs: Record<string, number[]>;
  /** Processes of a sandbox still alive once it reported `deleted`. */
  lingering: string[];
  failures: string[];
}

export interface SupervisorMemory {
  supervisor: Memory;
  /** The whole sandbox: both bwrap processes, the supervisor, anything else inside. */
  sandbox: TreeMemory;
  uids: number[];
}

export interface ExecResults {
  /** JSON mode round trips of `true`, as the client saw them. */
  jsonMs: number[];
  /** The supervisor's own `durationMs` for the same commands. */
  commandMs: number[];
  streams: StreamRun[];
  failures: string[];
  idle?: SupervisorMemory;
  afterStreams?: SupervisorMemory;
}

export interface StreamRun {
  ms: number;
  bytes: number;
  events: number;
  /** CPU seconds spent during the run by the control plane, the supervisor (with the
   *  command it reaped) and this client process. */
  cpu: { controlPlane?: number; supervisor?: number; client: number };
}

export interface PlaneMemory {
  controlPlane: Memory;
  database: TreeMemory;
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

export interface SandboxResults {
  options: SandboxBenchOptions;
  nodeVersion: string;
  bwrapVersion: string;
  peers: PeerResults;
  start?: { ms: number };
  planeFresh?: PlaneMemory;
  planeAfterTests?: PlaneMemory;
  lifecycle: LifecycleResults;
  exec: ExecResults;
  loaded: LoadedResults;
  /** Processes of this run's sandboxes still alive after the control plane stopped (should be 0). */
  leftovers: number;
  /** Processes under the sandbox uid range (200000–299999) that belong to other control planes. */
  foreignSandboxProcesses: number;
  graceful: boolean;
}

const PROJECT = "bench";
const POLL_MS = 10;
const PHASE_TIMEOUT_MS = 60_000;

type Log = (line: string) => void;

/** A sandbox resource, as far as this bench reads it. */
interface Sandbox {
  id: string;
  phase: string;
  createdAt: string;
  stages: { name: string; state: string; startedAt?: string; endedAt?: string; message?: string }[];
  error?: { code: string; message: string } | null;
}

/** The sandboxes this run created and those known to be deleted. The cleanup sets
 *  `stopping` (Ctrl-C, a failure), which ends the loops that create or wait. */
class Tracker {
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

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Polls GET /sandboxes/{id} until its phase is one of `phases` (or `failed`). */
async function waitForPhase(api: OutpostApi, run: Tracker, id: string, phases: string[], timeoutMs = PHASE_TIMEOUT_MS): Promise<Sandbox> {
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

function failedText(sandbox: Sandbox): string {
  const stage = sandbox.stages.find((s) => s.state === "failed");
  return `sandbox ${sandbox.id} failed${stage ? ` in stage ${stage.name}` : ""}: ${JSON.stringify(sandbox.error)}${stage?.message ? `; stage message: ${stage.message}` : ""}`;
}

/** Creates a sandbox and waits until it runs; returns it and the latency. */
async function createRunning(api: OutpostApi, run: Tracker, project: string): Promise<{ sandbox: Sandbox; ms: number }> {
  run.check();
  const started = performance.now();
  const pending = await api.expect<Sandbox>(201, "POST", `/api/v1/projects/${project}/sandboxes`);
  run.created.push(pending.id);
  const sandbox = await waitForPhase(api, run, pending.id, ["running"]);
  const ms = performance.now() - started;
  if (sandbox.phase !== "running") throw new Error(failedText(sandbox));
  return { sandbox, ms };
}

/** Deletes a sandbox and waits until it is `deleted`; returns the latency. */
async function deleteDeleted(api: OutpostApi, run: Tracker, id: string): Promise<number> {
  const started = performance.now();
  await api.expect(202, "DELETE", `/api/v1/sandboxes/${id}`);
  const sandbox = await waitForPhase(api, run, id, ["deleted"]);
  const ms = performance.now() - started;
  if (sandbox.phase !== "deleted") throw new Error(`delete: ${failedText(sandbox)}`);
  run.deleted.add(id);
  return ms;
}

/** DELETE each sandbox, then poll the list until all are `deleted`; returns the ms taken. */
async function deleteAll(api: OutpostApi, run: Tracker, project: string, ids: readonly string[]): Promise<number> {
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

function stageDurations(sandbox: Sandbox, into: Record<string, number[]>): void {
  const add = (name: string, ms: number) => {
    if (!Number.isFinite(ms)) return;
    into[name] = [...(into[name] ?? []), ms];
  };
  const first = sandbox.stages.find((s) => s.startedAt);
  if (first?.startedAt) add("queued (createdAt → first stage)", Date.parse(first.startedAt) - Date.parse(sandbox.createdAt));
  for (const stage of sandbox.stages) {
    if (stage.startedAt && stage.endedAt) add(stage.name, Date.parse(stage.endedAt) - Date.parse(stage.startedAt));
  }
  const last = [...sandbox.stages].reverse().find((s) => s.endedAt);
  if (last?.endedAt) add("total (createdAt → last stage end)", Date.parse(last.endedAt) - Date.parse(sandbox.createdAt));
}

/** The control plane's own node process (its children are the sandboxes' outer bwrap
 *  processes, counted with the sandboxes) and its database (postmaster and children). */
function planeMemory(plane: ControlPlane): PlaneMemory {
  const postmaster = postmasterPid(plane.dataDir);
  if (postmaster === undefined) throw new Error("no postmaster found for the running control plane");
  const own = processMemory(plane.pid);
  if (!own) throw new Error(`the control plane ${plane.pid} is gone`);
  return { controlPlane: own, database: treeMemory(postmaster) };
}

function sumMemory(pids: number[]): TreeMemory {
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

function supervisorMemory(found: SandboxProcesses | undefined): SupervisorMemory | undefined {
  if (!found?.supervisor) return undefined;
  const supervisor = processMemory(found.supervisor.pid);
  if (!supervisor) return undefined;
  return { supervisor, sandbox: sumMemory(found.pids), uids: found.uids };
}

/** The sandboxes of a project with their phase, all pages of the list. */
async function listSandboxes(api: OutpostApi, project: string, includeDeleted: boolean): Promise<Map<string, Sandbox>> {
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

async function measurePeers(options: SandboxBenchOptions, log: Log): Promise<PeerResults> {
  const results: PeerResults = { bwrapMs: [], srt: { error: "not measured" }, hostPipeMs: [], hostWcMs: [] };

  // Bare bwrap: a few warm-up spawns, then the timed ones.
  try {
    for (let i = 0; i < 3; i++) {
      const warm = await timedSpawn("bwrap", BARE_BWRAP_ARGS);
      if (warm.code !== 0) throw new Error(`bwrap exited with ${warm.code ?? warm.signal}: ${firstLine(warm.stderr)}`);
    }
    for (let i = 0; i < options.bwrapRuns; i++) results.bwrapMs.push((await timedSpawn("bwrap", BARE_BWRAP_ARGS)).ms);
    log(`bare bwrap /bin/true: ${results.bwrapMs.length} spawns`);
  } catch (error) {
    results.bwrapError = describe(error);
    log(`bare bwrap failed: ${results.bwrapError}`);
  }

  // srt -c true, with its own CLI in an empty directory and explicit default settings.
  const srt = findSrt();
  if (typeof srt === "string") {
    results.srt = { error: srt };
    log(`srt: ${srt}`);
  } else {
    const version = (await commandOutput(srt.node, ["--version"])) || "?";
    const run = () => timedSpawn(srt.node, srtArgs(srt, "true"), { cwd: srt.cwd });
    const first = await run();
    if (first.code !== 0) {
      results.srt = { error: `srt ${srt.version} on node ${version} exited with ${first.code ?? first.signal}: ${firstLine(first.stderr) || "(no stderr)"}` };
      log(results.srt.error);
    } else {
      await run();
      const ms: number[] = [];
      for (let i = 0; i < options.srtRuns; i++) {
        const result = await run();
        if (result.code !== 0) {
          results.srt = { error: `srt run ${i + 1} exited with ${result.code ?? result.signal}: ${firstLine(result.stderr)}` };
          break;
        }
        ms.push(result.ms);
      }
      if (ms.length === options.srtRuns) results.srt = { version: srt.version, node: srt.node, nodeVersion: version, ms };
      log(`srt -c true: ${ms.length} runs`);
    }
  }

  // The streamed command straight on the host.
  const command = `head -c ${options.streamBytes} /dev/zero`;
  for (let i = 0; i < options.streamRuns; i++) {
    const piped = await timedSpawn("sh", ["-c", command]);
    if (piped.code !== 0 || piped.stdoutBytes !== options.streamBytes) throw new Error(`host: ${command} gave ${piped.stdoutBytes} bytes, exit ${piped.code}`);
    results.hostPipeMs.push(piped.ms);
    const wc = await timedSpawn("sh", ["-c", `${command} | wc -c`]);
    if (wc.code !== 0) throw new Error(`host: ${command} | wc -c exited with ${wc.code}`);
    results.hostWcMs.push(wc.ms);
  }
  log(`host pipe baseline: ${options.streamRuns} × ${options.streamBytes} bytes`);
  return results;
}

export async function benchSandboxes(options: SandboxBenchOptions, log: Log = () => {}): Promise<SandboxResults> {
  for (const file of ["dist/outpost.js", "dist/supervisor.js"]) {
    if (!existsSync(join(REPO_ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does)`);
  }
  const results: SandboxResults = {
    options,
    nodeVersion: process.version,
    bwrapVersion: (await commandOutput("bwrap", ["--version"])) || "?",
    peers: await measurePeers(options, log),
    lifecycle: { createMs: [], deleteMs: [], stagesMs: {}, lingering: [], failures: [] },
    exec: { jsonMs: [], commandMs: [], streams: [], failures: [] },
    loaded: { requested: options.idleSandboxes, running: 0, requestedMs: 0, allRunningMs: 0, failures: [], supervisorsPssKb: [] },
    leftovers: 0,
    foreignSandboxProcesses: 0,
    graceful: false,
  };
  const dir = benchDataDir("outpost-bench-sbx-");
  const { plane, ms } = await startTimed(dir);
  results.start = { ms };
  const token = readFileSync(join(dir, "admin-token"), "utf8").trim();
  const api = new OutpostApi(plane.url, token);

  // On failure or Ctrl-C: stop creating, delete what is left through the API while the
  // control plane still runs (the cleanup of the control plane comes after this one), then
  // kill whatever of this run's sandboxes survived.
  const run = new Tracker();
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

    // 1. Lifecycle latencies, one sandbox at a time.
    for (let i = 0; i < options.lifecycleRuns; i++) {
      run.check();
      let id: string | undefined;
      try {
        const { sandbox, ms: createMs } = await createRunning(api, run, project);
        id = sandbox.id;
        results.lifecycle.createMs.push(createMs);
        stageDurations(sandbox, results.lifecycle.stagesMs);
        results.lifecycle.deleteMs.push(await deleteDeleted(api, run, id));
        const lingering = leftoverPids([id]);
        if (lingering.length) results.lifecycle.lingering.push(`${id}: pids ${lingering.join(", ")} alive after phase deleted`);
      } catch (error) {
        results.lifecycle.failures.push(`cycle ${i + 1}: ${describe(error)}`);
        log(`lifecycle cycle ${i + 1} failed: ${describe(error)}`);
        if (results.lifecycle.failures.length >= 3 && results.lifecycle.createMs.length === 0) break;
        if (id && !run.deleted.has(id)) await deleteDeleted(api, run, id).catch(() => {});
      }
      if ((i + 1) % 10 === 0) log(`lifecycle ${i + 1}/${options.lifecycleRuns}`);
    }

    // 2–4. One sandbox for exec and the supervisor's memory.
    try {
      const { sandbox } = await createRunning(api, run, project);
      await sleep(options.idleMs);
      results.exec.idle = supervisorMemory(sandboxProcesses([sandbox.id]).get(sandbox.id));
      if (!results.exec.idle) results.exec.failures.push(`no supervisor process found for ${sandbox.id}`);

      for (let i = 0; i < options.execRuns + 5; i++) {
        const started = performance.now();
        const response = await api.call("POST", `/api/v1/sandboxes/${sandbox.id}/exec`, { command: "true" });
        const elapsed = performance.now() - started;
        if (response.status !== 200 || response.body?.exitCode !== 0) {
          results.exec.failures.push(`exec true → ${response.status}: ${response.text.slice(0, 1000)}`);
          if (results.exec.failures.length >= 3) break;
          continue;
        }
        if (i < 5) continue; // warm-up
        results.exec.jsonMs.push(elapsed);
        results.exec.commandMs.push(response.body.durationMs);
      }
      log(`exec true (JSON): ${results.exec.jsonMs.length} round trips`);

      const command = `head -c ${options.streamBytes} /dev/zero`;
      const ticks = await clockTicks();
      const supervisorPid = sandboxProcesses([sandbox.id]).get(sandbox.id)?.supervisor?.pid;
      const cpuNow = () => ({
        controlPlane: cpuSeconds(plane.pid, ticks),
        supervisor: supervisorPid === undefined ? undefined : cpuSeconds(supervisorPid, ticks, true),
        client: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      });
      const spent = (before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>): StreamRun["cpu"] => ({
        controlPlane: before.controlPlane !== undefined && after.controlPlane !== undefined ? after.controlPlane - before.controlPlane : undefined,
        supervisor: before.supervisor !== undefined && after.supervisor !== undefined ? after.supervisor - before.supervisor : undefined,
        client: after.client - before.client,
      });
      for (let i = 0; i < options.streamRuns; i++) {
        try {
          const cpuBefore = cpuNow();
          const stream = await api.execStream(sandbox.id, command);
          const cpu = spent(cpuBefore, cpuNow());
          const problem = stream.error
            ? `error event ${JSON.stringify(stream.error)}`
            : stream.exit?.exitCode !== 0
              ? `exit ${JSON.stringify(stream.exit)}; stderr: ${stream.stderr.slice(0, 500)}`
              : stream.stdoutBytes !== options.streamBytes
                ? `got ${stream.stdoutBytes} of ${options.streamBytes} bytes`
                : undefined;
          if (problem) results.exec.failures.push(`streamed exec of '${command}': ${problem}`);
          else results.exec.streams.push({ ms: stream.ms, bytes: stream.stdoutBytes, events: stream.events, cpu });
          log(`streamed exec ${i + 1}/${options.streamRuns}: ${stream.stdoutBytes} bytes in ${stream.ms.toFixed(0)} ms`);
        } catch (error) {
          results.exec.failures.push(`streamed exec of '${command}': ${describe(error)}`);
        }
      }
      await sleep(Math.min(options.idleMs, 2_000));
      results.exec.afterStreams = supervisorMemory(sandboxProcesses([sandbox.id]).get(sandbox.id));
      await deleteDeleted(api, run, sandbox.id);
    } catch (error) {
      results.exec.failures.push(describe(error));
      log(`exec sandbox failed: ${describe(error)}`);
    }

    // 5. Many idle sandboxes: all created at once, then memory once they all run.
    await sleep(options.idleMs);
    results.planeAfterTests = planeMemory(plane);
    if (options.idleSandboxes > 0) await loadedMemory(api, run, plane, project, options, results.loaded, log);
  } finally {
    // Interrupted: the cleanup deletes, then the control plane's cleanup kills it.
    if (!run.stopping) {
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

async function loadedMemory(
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
      if (error instanceof ApiError && loaded.failures.length >= 3) break;
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
