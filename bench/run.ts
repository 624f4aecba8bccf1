// `npm run bench [group…]`: benchmarks that print ratios against a baseline measured in the
// same run. Groups (all by default; name one or more to run only those):
//   control-plane  start-up and idle memory of the control plane with its embedded
//                  PostgreSQL, next to an in-process PGlite store; cold and warm start
//                  next to the database alone and node -e 0, with the goals
//   cli            whole `outpost --version`, `outpost project list` and `outpost exec`
//                  processes next to `node -e 0` and their API calls alone
//   sandboxes      create → running (and where it goes), exec and streamed exec (frames,
//                  SSE) through the API, supervisor and control-plane memory with many idle
//                  supervisor links, next to a bare bwrap spawn (/bin/true, and starting the
//                  sandboxes' Node), Anthropic's sandbox-runtime (srt) and a host pipe; sizes
//                  from OUTPOST_BENCH_* variables (see bench/sandboxes/options.ts)
//   egress         the egress proxy from a real sandbox: per-request latency (p50, p99) of
//                  small GETs through it, and curl downloads through it (HTTP, HTTPS in a
//                  CONNECT tunnel), next to the same clients on the host straight to
//                  127.0.0.1; sizes from OUTPOST_BENCH_EGRESS_* (see bench/egress/options.ts)
//   preview        the preview proxy: per-request latency (p50, p99) of small GETs to an app
//                  in a sandbox through its preview origin and the bearer path, kept alive,
//                  next to the same app on the host; OUTPOST_BENCH_PREVIEW_* (bench/preview.ts)
//   web            the web UI's initial JavaScript and CSS (raw, gzip, brotli) against the
//                  250 KB gzip budget, and the time of the build's web step
//   terminal       keystroke echo latency (p50, p99) through a sandbox's terminal WebSocket,
//                  next to a PTY on the host; OUTPOST_BENCH_TERMINAL_KEYSTROKES (default 300)
//   runs           agent run events: latency (p50, p99) from a `custom` agent's output line to
//                  its `message` event over GET /runs/{rid}/events, next to a host pipe, and
//                  events/s for one run and many at once; OUTPOST_BENCH_RUNS_* (bench/runs.ts)
//   git            clone of a large repository (OUTPOST_BENCH_GIT_FILES, default 50 000 files)
//                  from a local git http-backend: host git clone next to a clone in a sandbox
//                  through the egress proxy and a sandbox created with it; checkpoint time for
//                  it, host vs sandbox vs the API; OUTPOST_BENCH_GIT_* (bench/git/options.ts)
//   databases      a project's PostgreSQL database on the managed provisioner: POST …/database
//                  until ready per project, next to a bare CREATE DATABASE on the same server;
//                  the server's PSS per idle project (and with one idle connection each);
//                  OUTPOST_BENCH_DATABASES (default 20 projects; bench/databases.ts)
//   kubernetes     the Kubernetes driver on the tests' stand-in cluster: API requests per
//                  create (goal ≤ 12), adopt, stop and start, and with N sandboxes at rest
//                  (goal: watches only); create → linked next to a bare pod;
//                  OUTPOST_BENCH_KUBE_* (bench/kubernetes.ts)
//   environments   create → first command from a warm pool and cold, on the host image and on
//                  debian:bookworm, next to a bare bwrap (`true`, and Node `-e 0`), with where
//                  it goes (stages); setup-cache miss vs hit; PSS of an idle pool's members;
//                  OUTPOST_BENCH_ENV_* (bench/environments.ts)
// e.g. `node --import tsx bench/run.ts sandboxes` (after `npm run build`). Progress goes to
// stderr, each group's summary to stdout; the exit code is 1 when a group failed or its
// summary lists problems. Writes nothing outside temp dirs, and stops every process it
// started, also on failure or Ctrl-C.
import { loadavg } from "node:os";
import { benchCliStart, cliStartReport } from "./cli-start.ts";
import { benchControlPlaneMemory } from "./control-plane-memory.ts";
import { benchControlPlaneStart, startGoalsReport } from "./control-plane-start.ts";
import { benchDatabases, DATABASES_OPTION_ENV, databasesBenchOptions, databasesReport } from "./databases.ts";
import { egressProblems, egressReport } from "./egress/report.ts";
import { benchEgress, EGRESS_OPTION_ENV, egressBenchOptions } from "./egress.ts";
import { environmentsReport } from "./environments/report.ts";
import { benchEnvironments, ENVIRONMENTS_OPTION_ENV, environmentsBenchOptions } from "./environments.ts";
import { gitProblems, gitReport } from "./git/report.ts";
import { benchGit, GIT_OPTION_ENV, gitBenchOptions } from "./git.ts";
import { benchKubernetes, KUBERNETES_OPTION_ENV, kubernetesBenchOptions, kubernetesProblems, kubernetesReport } from "./kubernetes.ts";
import { runCleanups } from "./lib/cleanup.ts";
import { benchPglite } from "./pglite.ts";
import { benchPreview, PREVIEW_OPTION_ENV, previewBenchOptions, previewProblems, previewReport } from "./preview.ts";
import { report } from "./report.ts";
import { benchRuns, RUNS_OPTION_ENV, runsBenchOptions, runsReport } from "./runs.ts";
import { benchSandboxes, OPTION_ENV, sandboxBenchOptions } from "./sandboxes.ts";
import { sandboxProblems, sandboxReport } from "./sandboxes-report.ts";
import { benchTerminal, terminalReport } from "./terminal.ts";
import { benchWeb, webOverBudget, webReport } from "./web.ts";

const RUNS = 5;
const PGLITE_RUNS = 3;
const IDLE_MS = 3_000;
const CLI_RUNS = 10;

const progress = (line: string) => process.stderr.write(`  · ${line}\n`);

async function controlPlane(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  process.stderr.write("control plane start-up (embedded PostgreSQL)\n");
  const start = await benchControlPlaneStart(RUNS, progress);
  process.stderr.write(`control plane idle memory (fresh data dir, then restart; ${IDLE_MS / 1000} s idle each)\n`);
  const memory = await benchControlPlaneMemory(IDLE_MS);
  process.stderr.write("PGlite baseline (one child process per open)\n");
  const pglite = await benchPglite(PGLITE_RUNS, IDLE_MS, progress);
  const load = { before: loadBefore, after: loadavg()[0]! };
  process.stdout.write(report({ start, memory, pglite, load, seconds: (performance.now() - began) / 1000 }));
  process.stdout.write(startGoalsReport(start));
}

async function cli(): Promise<void> {
  const loadBefore = loadavg()[0]!;
  process.stderr.write(`CLI start-up (${CLI_RUNS} runs of each command, in turn with node -e 0)\n`);
  const results = await benchCliStart(CLI_RUNS, progress);
  process.stdout.write(cliStartReport(results, { before: loadBefore, after: loadavg()[0]! }));
}

async function sandboxes(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  const options = sandboxBenchOptions();
  process.stderr.write(`sandboxes (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchSandboxes(options, progress);
  const load = { before: loadBefore, after: loadavg()[0]! };
  process.stdout.write(sandboxReport({ results, load, seconds: (performance.now() - began) / 1000 }));
  if (sandboxProblems(results)) process.exitCode = 1;
}

async function egress(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  const options = egressBenchOptions();
  process.stderr.write(`egress proxy (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchEgress(options, progress);
  const load = { before: loadBefore, after: loadavg()[0]! };
  process.stdout.write(egressReport({ results, load, seconds: (performance.now() - began) / 1000 }));
  if (egressProblems(results).length) process.exitCode = 1;
}

async function web(): Promise<void> {
  process.stderr.write("web UI (initial assets of /, build time)\n");
  const results = await benchWeb(progress);
  process.stdout.write(webReport(results));
  if (webOverBudget(results)) process.exitCode = 1;
}

async function preview(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  const options = previewBenchOptions();
  process.stderr.write(`preview proxy (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchPreview(options, progress);
  process.stdout.write(previewReport(results, { before: loadBefore, after: loadavg()[0]! }, (performance.now() - began) / 1000));
  if (previewProblems(results).length) process.exitCode = 1;
}

async function terminal(): Promise<void> {
  process.stderr.write("terminal keystroke echo latency\n");
  const results = await benchTerminal(progress);
  process.stdout.write(terminalReport(results));
  if (results.failures.length) process.exitCode = 1;
}

async function runs(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  const options = runsBenchOptions();
  process.stderr.write(`agent runs (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchRuns(options, progress);
  process.stdout.write(runsReport(results, { before: loadBefore, after: loadavg()[0]! }, (performance.now() - began) / 1000));
  if (results.failures.length) process.exitCode = 1;
}

async function git(): Promise<void> {
  const began = performance.now();
  const loadBefore = loadavg()[0]!;
  const options = gitBenchOptions();
  process.stderr.write(`git (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchGit(options, progress);
  process.stdout.write(gitReport(results, { before: loadBefore, after: loadavg()[0]! }, (performance.now() - began) / 1000));
  if (gitProblems(results).length) process.exitCode = 1;
}

async function databases(): Promise<void> {
  const began = performance.now();
  const options = databasesBenchOptions();
  process.stderr.write(`project databases (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchDatabases(options, progress);
  process.stdout.write(databasesReport(results, (performance.now() - began) / 1000));
  if (results.failures.length) process.exitCode = 1;
}

async function environments(): Promise<void> {
  const began = performance.now();
  const options = environmentsBenchOptions();
  process.stderr.write(`environments (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchEnvironments(options, progress);
  process.stdout.write(environmentsReport(results, (performance.now() - began) / 1000));
  if (results.failures.length || results.leftovers) process.exitCode = 1;
}

async function kubernetes(): Promise<void> {
  const options = kubernetesBenchOptions();
  process.stderr.write(`kubernetes (sizes: ${JSON.stringify(options)})\n`);
  const results = await benchKubernetes(options, progress);
  process.stdout.write(kubernetesReport(results));
  const problems = kubernetesProblems(results);
  for (const problem of problems) process.stdout.write(`  problem: ${problem}\n`);
  if (problems.length) process.exitCode = 1;
}

const GROUPS: Record<string, () => Promise<void>> = {
  "control-plane": controlPlane,
  cli,
  sandboxes,
  egress,
  web,
  preview,
  terminal,
  runs,
  git,
  databases,
  environments,
  kubernetes,
};

function usage(): string {
  return `usage: node --import tsx bench/run.ts [${Object.keys(GROUPS).join(" | ")}]…\n  sandbox sizes: ${OPTION_ENV.join(", ")}\n  egress sizes: ${EGRESS_OPTION_ENV.join(", ")}\n  preview sizes: ${PREVIEW_OPTION_ENV.join(", ")}\n  runs sizes: ${RUNS_OPTION_ENV.join(", ")}\n  git sizes: ${GIT_OPTION_ENV.join(", ")}\n  databases sizes: ${DATABASES_OPTION_ENV.join(", ")}\n  environments sizes: ${ENVIRONMENTS_OPTION_ENV.join(", ")}\n  kubernetes sizes: ${KUBERNETES_OPTION_ENV.join(", ")}\n`;
}

const requested = process.argv.slice(2);
if (requested.includes("-h") || requested.includes("--help")) {
  process.stdout.write(usage());
  process.exit(0);
}
const unknown = requested.filter((name) => !(name in GROUPS));
if (unknown.length) {
  process.stderr.write(`bench: unknown group ${unknown.join(", ")}\n${usage()}`);
  process.exit(2);
}
const selected = requested.length ? [...new Set(requested)] : Object.keys(GROUPS);

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}; stopping everything it started...\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}

try {
  for (const name of selected) await GROUPS[name]!();
} catch (error) {
  // After Ctrl-C the running benchmark stops with an "interrupted" error: not news.
  if (!interrupted) process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  if (!interrupted) await runCleanups();
}
