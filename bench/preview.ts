// The preview proxy of issue 16: the cost per request of reaching an app in a sandbox through
// its preview, next to the same app reached directly on the host, measured in the same run.
// A control plane runs as a child process (`node bin/outpost.js serve` on a temp data dir)
// with one sandbox; the same tiny app (a 3-byte answer, under the sandboxes' own Node
// binary) runs in the sandbox on port 3000 and on the host on a free port. This process
// sends sequential small GETs over one kept-alive connection per way:
//   direct  host → the app on 127.0.0.1 (the baseline)
//   origin  host → the control plane, Host: 3000-<sandbox>.localhost, the preview cookie
//           (the front door, a session lookup in the database, a tunnel on the sandbox's
//           link, the supervisor's connection to the app)
//   bearer  host → the control plane's /preview/<sandbox>/3000/ with a bearer token
// in rounds, every way once per round in turn (so a noisy machine slows them alike), with
// untimed warm-up requests first. The CPU the control plane, its database and the sandbox's
// supervisor spend is read around each way's requests. The sandbox is deleted through the
// API before the control plane is stopped; on failure or Ctrl-C a cleanup does it, then
// kills whatever of it survived; the host app is stopped.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type Cpu, type CpuPids, cpuNow, cpuSpent } from "./egress/cpu.ts";
import { signedMs } from "./egress/report.ts";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { envInt } from "./lib/env.ts";
import { finishRun } from "./lib/finish-run.ts";
import { table } from "./lib/format.ts";
import { benchDataDir, postmasterPid, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { killSandboxes, leftoverPids, sandboxProcesses } from "./lib/sandbox-processes.ts";
import { percentile } from "./lib/stats.ts";
import { fine, preciseRatio } from "./sandboxes/report-format.ts";
import { createRunning, deleteDeleted, describe, type Log, type Sandbox, Tracker } from "./sandboxes/tracker.ts";

export interface PreviewBenchOptions {
  /** Timed requests of each way (all rounds together). */
  requests: number;
  rounds: number;
  /** Untimed requests of each way before the first round. */
  warmUp: number;
}

export const PREVIEW_OPTION_ENV = ["OUTPOST_BENCH_PREVIEW_REQUESTS", "OUTPOST_BENCH_PREVIEW_WARMUP"];

export function previewBenchOptions(): PreviewBenchOptions {
  return { requests: envInt("OUTPOST_BENCH_PREVIEW_REQUESTS", 2000, 10), rounds: 5, warmUp: envInt("OUTPOST_BENCH_PREVIEW_WARMUP", 200, 0) };
}

const WAYS = ["direct", "origin", "bearer"] as const;
type Way = (typeof WAYS)[number];
const WAY_LABELS: Record<Way, string> = {
  direct: "host → the app on 127.0.0.1 (baseline)",
  origin: "preview origin (Host: 3000-<sandbox>.localhost, cookie)",
  bearer: "main origin /preview/<sandbox>/3000/ (bearer token)",
};

export interface PreviewResults {
  options: PreviewBenchOptions;
  nodeVersion: string;
  start?: { ms: number };
  ms: Record<Way, number[]>;
  cpu: Record<Way, { spent: Cpu; requests: number }[]>;
  failures: string[];
  leftovers: number;
  graceful: boolean;
}

const PROJECT = "bench-preview";
const APP_PORT = 3000;
const SANDBOX_NODE_ON_HOST = join(REPO_ROOT, "dist", "opt-outpost", "bin", "node");
/** The app: three bytes per request, the same code on the host and in the sandbox. */
const APP_SOURCE = `import { createServer } from "node:http";
const server = createServer((req, res) => { res.writeHead(200, { "content-type": "text/plain", "content-length": "3" }); res.end("ok\\n"); });
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log(server.address().port));
`;

export async function benchPreview(options: PreviewBenchOptions, log: Log = () => {}): Promise<PreviewResults> {
  for (const file of ["dist/outpost.js", "dist/opt-outpost/supervisor.js", "dist/opt-outpost/bin/node"]) {
    if (!existsSync(join(REPO_ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does)`);
  }
  const results: PreviewResults = {
    options,
    nodeVersion: process.version,
    ms: { direct: [], origin: [], bearer: [] },
    cpu: { direct: [], origin: [], bearer: [] },
    failures: [],
    leftovers: 0,
    graceful: false,
  };
  const hostApp = await startHostApp();
  const dir = benchDataDir("outpost-bench-preview-");
  const { plane, ms } = await startTimed(dir);
  results.start = { ms };
  const api = new OutpostApi(plane.url, readFileSync(join(dir, "admin-token"), "utf8").trim());
  const run = new Tracker();
  const cleanupDone = deferCleanup("the preview bench's sandbox", async () => {
    run.stopping = true;
    for (const id of run.live()) await api.call("DELETE", `/api/v1/sandboxes/${id}`).catch(() => undefined);
    const deadline = Date.now() + 30_000;
    while (run.live().length && plane.child.exitCode === null && Date.now() < deadline) {
      await sleep(250);
      for (const id of run.live()) {
        const state = await api.call<Sandbox>("GET", `/api/v1/sandboxes/${id}`).catch(() => undefined);
        if (state?.status === 200 && state.body.phase === "deleted") run.deleted.add(id);
      }
    }
    await killSandboxes(run.created);
    api.close();
  });

  try {
    await api.expect(201, "POST", "/api/v1/projects", { name: PROJECT });
    const { sandbox } = await createRunning(api, run, PROJECT);
    const name = (await api.expect<{ name: string }>(200, "GET", `/api/v1/sandboxes/${sandbox.id}`)).name;
    await api.expect(200, "POST", `/api/v1/sandboxes/${sandbox.id}/exec`, { command: ["sh", "-c", "cat > /workspace/app.mjs"], stdin: APP_SOURCE });
    await api.expect(201, "POST", `/api/v1/sandboxes/${sandbox.id}/processes`, { command: ["/opt/outpost/bin/node", "/workspace/app.mjs", String(APP_PORT)] });
    await waitForPort(api, run, sandbox.id, APP_PORT);
    const cookie = await previewCookie(api, plane.url, sandbox.id);
    const supervisor = sandboxProcesses([sandbox.id]).get(sandbox.id)?.supervisor?.pid;
    const pids: CpuPids = { controlPlane: plane.pid, postmaster: postmasterPid(dir), supervisor };
    log(`control plane ready in ${ms.toFixed(0)} ms; sandbox ${name} serves port ${APP_PORT}; the host app listens on ${hostApp.port}`);

    const controlPlanePort = Number(new URL(plane.url).port);
    const previewHost = `${APP_PORT}-${name}.localhost:${controlPlanePort}`;
    const targets: Record<Way, Target> = {
      direct: { port: hostApp.port, path: "/", headers: { host: `127.0.0.1:${hostApp.port}` } },
      origin: { port: controlPlanePort, path: "/", headers: { host: previewHost, cookie } },
      bearer: {
        port: controlPlanePort,
        path: `/preview/${name}/${APP_PORT}/`,
        headers: { host: `127.0.0.1:${controlPlanePort}`, authorization: `Bearer ${api.token}` },
      },
    };
    const clients = Object.fromEntries(WAYS.map((way) => [way, new Client(targets[way])])) as Record<Way, Client>;
    for (const way of WAYS) for (let i = 0; i < options.warmUp; i++) await clients[way].get();
    const perRound = Math.ceil(options.requests / options.rounds);
    for (let round = 1; round <= options.rounds; round++) {
      for (const way of WAYS) {
        run.check();
        const before = cpuNow(pids);
        for (let i = 0; i < perRound; i++) results.ms[way].push(await clients[way].get());
        results.cpu[way].push({ spent: cpuSpent(before, cpuNow(pids)), requests: perRound });
      }
      log(`round ${round}/${options.rounds}: ${perRound} requests of each way (${WAYS.join(", ")})`);
    }
    for (const client of Object.values(clients)) client.close();
    await deleteDeleted(api, run, sandbox.id);
  } catch (error) {
    if (run.stopping) throw error;
    results.failures.push(describe(error));
    log(`preview bench failed: ${describe(error)}`);
  } finally {
    if (!run.stopping) {
      await finishRun(api, run, plane, results, cleanupDone);
    }
    hostApp.stop();
  }
  return results;
}

interface Target {
  port: number;
  path: string;
  headers: Record<string, string>;
}

/** Sequential GETs over one kept-alive connection; each resolves with its milliseconds. */
class Client {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });

  constructor(private readonly target: Target) {}

  get(): Promise<number> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: this.target.port, path: this.target.path, headers: this.target.headers, agent: this.#agent }, (res) => {
        let bytes = 0;
        res.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
        });
        res.on("end", () => {
          if (res.statusCode !== 200 || bytes !== 3) reject(new Error(`${this.target.path} answered ${res.statusCode} with ${bytes} bytes`));
          else resolve(performance.now() - started);
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

/** The app on the host, under the sandboxes' Node binary; resolves once it listens. */
async function startHostApp(): Promise<{ port: number; stop(): void }> {
  const folder = mkdtempSync(join(tmpdir(), "outpost-bench-preview-app-"));
  const script = join(folder, "app.mjs");
  writeFileSync(script, APP_SOURCE);
  const child: ChildProcess = spawn(SANDBOX_NODE_ON_HOST, [script, "0"], { stdio: ["ignore", "pipe", "inherit"], env: { PATH: "/usr/bin:/bin" } });
  const stop = () => {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(folder, { recursive: true, force: true });
  };
  const done = deferCleanup("the preview bench's host app", async () => stop());
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once("exit", (code) => reject(new Error(`the host app exited (${code}) before listening`)));
  });
  return {
    port,
    stop: () => {
      stop();
      done();
    },
  };
}

/** Polls the ports list until the app listens (a bench may poll; tests use the stream). */
async function waitForPort(api: OutpostApi, run: Tracker, sandboxId: string, port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    run.check();
    const list = await api.expect<{ items: { port: number }[] }>(200, "GET", `/api/v1/sandboxes/${sandboxId}/ports`);
    if (list.items.some((item) => item.port === port)) return;
    await sleep(50);
  }
  throw new Error(`port ${port} did not listen in the sandbox within 30 s`);
}

/** The open flow with the bearer token: the open route's 303, then the preview's sign-in for its cookie. */
async function previewCookie(api: OutpostApi, url: string, sandboxId: string): Promise<string> {
  const location = await locationOf(url, `/api/v1/sandboxes/${sandboxId}/previews/${APP_PORT}/open`, api.token);
  if (!location) throw new Error("the open route answered without a Location");
  const target = new URL(location);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: new URL(url).port, path: `${target.pathname}${target.search}`, headers: { host: target.host }, agent: false },
      (res) => {
        res.resume();
        const cookie = res.headers["set-cookie"]?.[0]?.split(";", 1)[0];
        if (res.statusCode === 303 && cookie) resolve(cookie);
        else reject(new Error(`the preview's sign-in answered ${res.statusCode}`));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** The Location of a GET (OutpostApi does not show headers). */
function locationOf(url: string, path: string, token: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      res.resume();
      resolve(res.headers.location);
    });
    req.on("error", reject);
    req.end();
  });
}

// ---- the printed summary

const p = (values: readonly number[], at: number) => (values.length ? percentile(values, at) : Number.NaN);

function cpuPerRequest(runs: PreviewResults["cpu"][Way], of: "controlPlane" | "database" | "supervisor"): string {
  const known = runs.filter((r) => r.spent[of] !== undefined);
  const requests = known.reduce((sum, r) => sum + r.requests, 0);
  return requests ? fine((known.reduce((sum, r) => sum + (r.spent[of] ?? 0), 0) * 1000) / requests) : "–";
}

export function previewProblems(results: PreviewResults): string[] {
  const problems = [...results.failures];
  if (results.leftovers > 0) problems.push(`${results.leftovers} process(es) of the sandbox were still alive after the control plane stopped`);
  if (!results.graceful) problems.push("the control plane did not stop gracefully");
  return problems;
}

export function previewReport(results: PreviewResults, load: { before: number; after: number }, seconds: number): string {
  const cpu = cpus();
  const rows = [["", "N", "p50", "p99", "max", "p50 − baseline", "p99 − baseline", "× p50", "CPU/request: control plane", "database", "supervisor"]];
  const base = results.ms.direct;
  for (const way of WAYS) {
    const values = results.ms[way];
    if (!values.length) {
      rows.push([WAY_LABELS[way], "0", "–"]);
      continue;
    }
    const isBase = way === "direct";
    rows.push([
      WAY_LABELS[way],
      String(values.length),
      fine(p(values, 50)),
      fine(p(values, 99)),
      fine(Math.max(...values)),
      isBase ? "" : signedMs(p(values, 50) - p(base, 50)),
      isBase ? "" : signedMs(p(values, 99) - p(base, 99)),
      isBase ? "" : preciseRatio(p(values, 50), p(base, 50)),
      cpuPerRequest(results.cpu[way], "controlPlane"),
      cpuPerRequest(results.cpu[way], "database"),
      isBase ? "" : cpuPerRequest(results.cpu[way], "supervisor"),
    ]);
  }
  const problems = previewProblems(results);
  return [
    "Outpost preview proxy: small GETs to an app in a sandbox through its preview vs the same app on the host, measured in the same run",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}; bench and control plane on Node ${results.nodeVersion}; the app on /opt/outpost/bin/node in both places`,
    `  load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after; control plane ready in ${fine(results.start?.ms ?? Number.NaN)}; ${seconds.toFixed(0)} s in all`,
    "",
    `Per request: sequential GETs of a 3-byte answer over one kept-alive connection per way, ${results.options.rounds} rounds in turn, ${results.options.warmUp} untimed first`,
    table(rows),
    "  through a preview, each request = the front door, one database read (the cookie's session, or the token and the role), a new stream on",
    "  the sandbox's link (HTTP/2) and a new TCP connection from the supervisor to the app; the browser's connection to Outpost stays alive.",
    "  CPU/request: read around each way's requests in each round; on the baseline row, what the idle control plane and database spend meanwhile",
    "",
    problems.length ? `Problems:\n${problems.map((line) => `  - ${line}`).join("\n")}` : "Problems: none",
    "",
  ].join("\n");
}
