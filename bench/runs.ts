// The `runs` group (issue 17): what the agent-run pipeline adds to an agent's output on its way
// to an API client, measured with the `custom` agent so no model API is involved. The agent is
// a Node script in the workspace that prints JSON lines, each carrying the wall-clock time it
// was written (performance.timeOrigin + performance.now(): the sandbox shares the host's clock,
// bwrap keeps the time namespace). Each line becomes one `message` event; the bench follows
// GET /runs/{rid}/events and subtracts the line's time from the event's arrival.
//   latency     lines every OUTPOST_BENCH_RUNS_INTERVAL_MS (20) ms, OUTPOST_BENCH_RUNS_LATENCY_LINES
//               (300) of them → p50/p99 of arrival − write; the baseline is the same script run
//               on the host (same Node binary) with its stdout read by this process (spawn +
//               readline), in the same run
//   throughput  one run printing OUTPOST_BENCH_RUNS_LINES (2000) lines as fast as it can →
//               events/s from the first to the last event at the client; then
//               OUTPOST_BENCH_RUNS_CONCURRENT (20) conversations in one sandbox, each printing
//               OUTPOST_BENCH_RUNS_CONCURRENT_LINES (250), all followed at once → total events/s
// The path of an event: agent stdout → supervisor's process journal (one record per line) →
// control plane over the sandbox's link → parsed by the adapter, stored in the database →
// NOTIFY → the SSE stream reads it back and sends it.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup } from "./lib/cleanup.ts";
import { envInt } from "./lib/env.ts";
import { table } from "./lib/format.ts";
import { benchDataDir, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { killSandboxes } from "./lib/sandbox-processes.ts";
import { percentile } from "./lib/stats.ts";
import { createRunning, deleteDeleted, describe, type Log, Tracker } from "./sandboxes/tracker.ts";

export interface RunsBenchOptions {
  latencyLines: number;
  intervalMs: number;
  lines: number;
  concurrent: number;
  concurrentLines: number;
}

export const RUNS_OPTION_ENV = [
  "OUTPOST_BENCH_RUNS_LATENCY_LINES",
  "OUTPOST_BENCH_RUNS_INTERVAL_MS",
  "OUTPOST_BENCH_RUNS_LINES",
  "OUTPOST_BENCH_RUNS_CONCURRENT",
  "OUTPOST_BENCH_RUNS_CONCURRENT_LINES",
];

export function runsBenchOptions(): RunsBenchOptions {
  return {
    latencyLines: envInt("OUTPOST_BENCH_RUNS_LATENCY_LINES", 300, 10),
    intervalMs: envInt("OUTPOST_BENCH_RUNS_INTERVAL_MS", 20, 0),
    lines: envInt("OUTPOST_BENCH_RUNS_LINES", 2000, 10),
    concurrent: envInt("OUTPOST_BENCH_RUNS_CONCURRENT", 20, 1),
    concurrentLines: envInt("OUTPOST_BENCH_RUNS_CONCURRENT_LINES", 250, 10),
  };
}

export interface Latency {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface Throughput {
  runs: number;
  events: number;
  /** From the first to the last event at the client(s). */
  ms: number;
  perSecond: number;
  /** The same from the first to the last event stored: shows whether storing or streaming sets the pace. */
  storedPerSecond?: number;
}

export interface RunsResults {
  options: RunsBenchOptions;
  hostLatency?: Latency;
  runLatency?: Latency;
  /** The run latency split at the moment the event was stored: line written → stored, stored → client. */
  runToStored?: Latency;
  runStoredToClient?: Latency;
  /** Events that arrived before the SSE stream was open, left out of the latency (they were read back, not streamed). */
  runLatencySkipped: number;
  hostThroughput?: Throughput;
  runThroughput?: Throughput;
  concurrentThroughput?: Throughput;
  failures: string[];
}

const PROJECT = "bench-runs";
const SANDBOX_NODE_ON_HOST = join(REPO_ROOT, "dist", "opt-outpost", "bin", "node");
/** Untimed lines at the start of every latency run: the first lines pay for the JIT and the stream's set-up. */
const WARMUP_LINES = 10;
/** A run whose stream carries no event for this long is reported stuck instead of waited for. */
const IDLE_LIMIT_MS = 60_000;

/** The agent: the prompt (OUTPOST_PROMPT) is "<lines> <interval ms> <pause before the first ms>".
 *  Pipes are written synchronously by Node on Linux, so each `t` is the moment the line left. */
const EMIT_SOURCE = `const [count, interval, pause] = (process.env.OUTPOST_PROMPT ?? "").trim().split(/\\s+/).map(Number);
const now = () => performance.timeOrigin + performance.now();
const emit = (i) => process.stdout.write(JSON.stringify({ t: now(), i }) + "\\n");
await new Promise((resolve) => setTimeout(resolve, pause));
if (interval > 0) {
  for (let i = 0; i < count; i++) {
    emit(i);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
} else {
  for (let i = 0; i < count; i++) emit(i);
}
`;

const arrivalNow = () => performance.timeOrigin + performance.now();

interface Line {
  t: number;
  i: number;
  /** Arrival at this process, same clock as `t`. */
  at: number;
  /** When the control plane stored the event (its `at`, millisecond resolution); none on the host. */
  stored?: number;
}

function latencyOf(lines: readonly Line[], from: (line: Line) => number = (line) => line.t, to: (line: Line) => number = (line) => line.at): Latency {
  const samples = lines.filter((line) => line.i >= WARMUP_LINES).map((line) => to(line) - from(line));
  if (!samples.length) throw new Error("no latency samples after the warm-up lines");
  return { n: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

function throughputOf(runs: readonly Line[][]): Throughput {
  const all = runs.flat();
  const first = Math.min(...all.map((line) => line.at));
  const last = Math.max(...all.map((line) => line.at));
  const ms = last - first;
  const throughput: Throughput = { runs: runs.length, events: all.length, ms, perSecond: ms > 0 ? ((all.length - 1) * 1000) / ms : Number.NaN };
  const stored = all.flatMap((line) => (line.stored === undefined ? [] : [line.stored]));
  if (stored.length === all.length) {
    const storedMs = Math.max(...stored) - Math.min(...stored);
    if (storedMs > 0) throughput.storedPerSecond = ((all.length - 1) * 1000) / storedMs;
  }
  return throughput;
}

// ---- the baseline: the script on the host, its stdout read straight from the pipe

async function onHost(script: string, prompt: string): Promise<Line[]> {
  const child = spawn(SANDBOX_NODE_ON_HOST, [script], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: "/usr/bin:/bin", OUTPOST_PROMPT: prompt } });
  const done = deferCleanup("the runs bench's host script", () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const lines: Line[] = [];
  for await (const text of createInterface({ input: child.stdout! })) {
    const at = arrivalNow();
    const { t, i } = JSON.parse(text) as { t: number; i: number };
    lines.push({ t, i, at });
  }
  const code = await exited;
  done();
  if (code !== 0) throw new Error(`the host script exited with code ${code}`);
  return lines;
}

// ---- through Outpost: a conversation with the custom agent, its run's events over SSE

interface FollowedRun {
  lines: Line[];
  /** When the SSE response's headers arrived (same clock as `t`). */
  openedAt: number;
  finalStatus: string | undefined;
  errors: string[];
}

/** Follows GET /runs/{rid}/events until it ends (after the final status). One connection
 *  per stream (agent: false): many streams at once must not queue behind a pool's limit. */
function followRun(api: OutpostApi, runId: string): Promise<FollowedRun> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${api.url}/api/v1/runs/${runId}/events`,
      { headers: { authorization: `Bearer ${api.token}`, accept: "text/event-stream" }, agent: false },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`GET /runs/${runId}/events answered ${res.statusCode}`));
          return;
        }
        const result: FollowedRun = { lines: [], openedAt: arrivalNow(), finalStatus: undefined, errors: [] };
        let buffer = "";
        let idle: NodeJS.Timeout | undefined;
        const watch = () => {
          clearTimeout(idle);
          idle = setTimeout(() => {
            const seen = result.lines.length ? `${result.lines.length} message events so far` : "no message event";
            req.destroy(new Error(`run ${runId}: no event for ${IDLE_LIMIT_MS / 1000} s (${seen}); it did not finish`));
          }, IDLE_LIMIT_MS);
        };
        watch();
        const frame = (text: string, at: number) => {
          let type = "message";
          let data = "";
          for (const line of text.split("\n")) {
            if (line.startsWith("event: ")) type = line.slice(7);
            else if (line.startsWith("data: ")) data += line.slice(6);
          }
          if (!data) return; // a heartbeat comment
          watch();
          const event = JSON.parse(data) as { at?: string; text?: string; status?: string; reason?: string; code?: string; message?: string };
          if (type === "message") {
            const { t, i } = JSON.parse(event.text!) as { t: number; i: number };
            result.lines.push({ t, i, at, stored: Date.parse(event.at!) });
          } else if (type === "status" && ["succeeded", "failed", "cancelled"].includes(event.status!)) {
            result.finalStatus = event.reason ? `${event.status} (${event.reason})` : event.status;
          } else if (type === "error") {
            result.errors.push(`${event.code}: ${event.message}`);
          }
        };
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          // One arrival time per chunk: the events in it reached this process together.
          const at = arrivalNow();
          buffer += chunk;
          let boundary = buffer.indexOf("\n\n");
          while (boundary !== -1) {
            frame(buffer.slice(0, boundary), at);
            buffer = buffer.slice(boundary + 2);
            boundary = buffer.indexOf("\n\n");
          }
        });
        res.on("error", (error) => {
          clearTimeout(idle);
          reject(error);
        });
        res.on("end", () => {
          clearTimeout(idle);
          resolve(result);
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** Starts one conversation per run, sends each its prompt, follows every run to its end. */
async function throughRuns(api: OutpostApi, sandboxId: string, prompt: string, count: number): Promise<FollowedRun[]> {
  const conversations = await Promise.all(
    Array.from({ length: count }, () =>
      api.expect<{ id: string }>(201, "POST", `/api/v1/sandboxes/${sandboxId}/conversations`, {
        agent: "custom",
        title: "bench",
        command: "exec /opt/outpost/bin/node /workspace/emit.mjs",
      }),
    ),
  );
  const followed = await Promise.all(
    conversations.map(async (conversation) => {
      const { run } = await api.expect<{ run: { id: string } }>(202, "POST", `/api/v1/conversations/${conversation.id}/messages`, { text: prompt });
      return followRun(api, run.id);
    }),
  );
  for (const [index, run] of followed.entries()) {
    const problem =
      run.finalStatus !== "succeeded"
        ? `ended ${run.finalStatus ?? "without a final status"}`
        : run.errors.length
          ? `error events: ${run.errors.join("; ")}`
          : undefined;
    if (problem) throw new Error(`run ${index + 1} of ${count} ${problem}`);
  }
  return followed;
}

function expectLines(label: string, runs: readonly { lines: Line[] }[], perRun: number): void {
  for (const run of runs) {
    if (run.lines.length !== perRun) throw new Error(`${label}: ${run.lines.length} message events instead of ${perRun}`);
  }
}

export async function benchRuns(options: RunsBenchOptions, log: Log = () => {}): Promise<RunsResults> {
  const results: RunsResults = { options, runLatencySkipped: 0, failures: [] };
  const latencyPrompt = `${options.latencyLines + WARMUP_LINES} ${options.intervalMs} 300`;

  const folder = mkdtempSync(join(tmpdir(), "outpost-bench-runs-"));
  const script = join(folder, "emit.mjs");
  writeFileSync(script, EMIT_SOURCE);
  const folderDone = deferCleanup("the runs bench's host script folder", () => rmSync(folder, { recursive: true, force: true }));
  try {
    log(`host baseline: ${options.latencyLines} lines every ${options.intervalMs} ms, then ${options.lines} as fast as possible`);
    results.hostLatency = latencyOf(await onHost(script, latencyPrompt));
    const hostFast = await onHost(script, `${options.lines} 0 0`);
    expectLines("host throughput", [{ lines: hostFast }], options.lines);
    results.hostThroughput = throughputOf([hostFast]);
  } catch (error) {
    results.failures.push(`host baseline: ${describe(error)}`);
  } finally {
    rmSync(folder, { recursive: true, force: true });
    folderDone();
  }

  const dir = benchDataDir("outpost-bench-runs-");
  const { plane, ms } = await startTimed(dir);
  const api = new OutpostApi(plane.url, readFileSync(join(dir, "admin-token"), "utf8").trim());
  const run = new Tracker();
  const cleanupDone = deferCleanup("the runs bench's sandbox", async () => {
    run.stopping = true;
    for (const id of run.live()) await api.call("DELETE", `/api/v1/sandboxes/${id}`).catch(() => undefined);
    await killSandboxes(run.created);
    api.close();
  });
  try {
    await api.expect(201, "POST", "/api/v1/projects", { name: PROJECT });
    const { sandbox } = await createRunning(api, run, PROJECT);
    await api.expect(200, "POST", `/api/v1/sandboxes/${sandbox.id}/exec`, { command: ["sh", "-c", "cat > /workspace/emit.mjs"], stdin: EMIT_SOURCE });
    log(`control plane ready in ${ms.toFixed(0)} ms; sandbox ${sandbox.id} running`);

    log(`latency: one run, ${options.latencyLines} lines every ${options.intervalMs} ms (after ${WARMUP_LINES} untimed)`);
    const [latencyRun] = await throughRuns(api, sandbox.id, latencyPrompt, 1);
    expectLines("latency run", [latencyRun!], options.latencyLines + WARMUP_LINES);
    // A line written before the stream was open was read back from the database, not streamed.
    const streamed = latencyRun!.lines.filter((line) => line.t >= latencyRun!.openedAt);
    results.runLatencySkipped = latencyRun!.lines.length - streamed.length;
    results.runLatency = latencyOf(streamed);
    results.runToStored = latencyOf(streamed, undefined, (line) => line.stored!);
    results.runStoredToClient = latencyOf(streamed, (line) => line.stored!);

    run.check();
    log(`throughput: one run, ${options.lines} lines as fast as possible`);
    const fast = await throughRuns(api, sandbox.id, `${options.lines} 0 300`, 1);
    expectLines("throughput run", fast, options.lines);
    results.runThroughput = throughputOf(fast.map((r) => r.lines));

    run.check();
    log(`throughput: ${options.concurrent} runs at once in the sandbox, ${options.concurrentLines} lines each`);
    const many = await throughRuns(api, sandbox.id, `${options.concurrentLines} 0 300`, options.concurrent);
    expectLines("concurrent runs", many, options.concurrentLines);
    results.concurrentThroughput = throughputOf(many.map((r) => r.lines));

    await deleteDeleted(api, run, sandbox.id);
  } catch (error) {
    if (run.stopping) throw error;
    results.failures.push(describe(error));
    log(`runs bench failed: ${describe(error)}`);
  } finally {
    if (!run.stopping) {
      for (const id of run.live()) await deleteDeleted(api, run, id).catch((error) => results.failures.push(`final delete: ${describe(error)}`));
      await stopGracefully(plane).catch((error) => results.failures.push(`graceful stop: ${describe(error)}`));
      cleanupDone();
      await killSandboxes(run.created);
      api.close();
    }
  }
  return results;
}

// ---- the printed summary

export function runsReport(results: RunsResults, load: { before: number; after: number }, seconds: number): string {
  const { options } = results;
  const cpu = cpus();
  const ms = (value: number) => `${value.toFixed(2)} ms`;
  const latencyRow = (label: string, value: Latency | undefined) =>
    value ? [label, String(value.n), ms(value.p50), ms(value.p99), ms(value.max)] : [label, "–", "not measured", "", ""];
  const rate = (value: Throughput | undefined) => (value ? `${Math.round(value.perSecond).toLocaleString("en")} events/s` : "not measured");
  const storedRate = (value: Throughput) => (value.storedPerSecond === undefined ? "" : `${Math.round(value.storedPerSecond).toLocaleString("en")} events/s`);
  const throughputRow = (label: string, value: Throughput | undefined) =>
    value
      ? [label, String(value.runs), String(value.events), `${(value.ms / 1000).toFixed(2)} s`, rate(value), storedRate(value)]
      : [label, "–", "–", "–", "not measured", ""];
  const lines = [
    "Outpost agent runs: output lines of a `custom` agent as `message` events over GET /runs/{rid}/events (SSE), next to a host pipe",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}; bench on Node ${process.version}; the script on /opt/outpost/bin/node in both places`,
    `  load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after; ${seconds.toFixed(0)} s in all`,
    "",
    `Latency, line written → event at the client (one line every ${options.intervalMs} ms, ${WARMUP_LINES} untimed first)`,
    table([
      ["", "N", "p50", "p99", "max"],
      latencyRow("run events over SSE", results.runLatency),
      latencyRow("  of which: written → stored (event's `at`)", results.runToStored),
      latencyRow("  of which: stored → client", results.runStoredToClient),
      latencyRow("host pipe, spawn + readline (baseline)", results.hostLatency),
    ]),
  ];
  if (results.runLatency && results.hostLatency) {
    lines.push(
      `  added by the run pipeline: p50 ${ms(results.runLatency.p50 - results.hostLatency.p50)}, p99 ${ms(results.runLatency.p99 - results.hostLatency.p99)}`,
    );
  }
  if (results.runLatencySkipped) lines.push(`  ${results.runLatencySkipped} line(s) written before the stream was open were left out`);
  lines.push(
    "",
    "Throughput, lines printed as fast as possible, from the first to the last event at the client",
    table([
      ["", "runs", "events", "time", "rate at the client", "rate stored"],
      throughputRow("one run", results.runThroughput),
      throughputRow(`${options.concurrent} runs at once, one sandbox`, results.concurrentThroughput),
      throughputRow("host pipe (baseline)", results.hostThroughput),
    ]),
    "",
    results.failures.length ? `Problems:\n${results.failures.map((line) => `  - ${line}`).join("\n")}` : "Problems: none",
    "",
  );
  return lines.join("\n");
}
