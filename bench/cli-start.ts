// What a CLI command costs before doing its work: the whole process, from spawning
// `node bin/outpost.js …` until it exits, next to `node -e 0` (starting Node itself) and to
// the command's API call made from this process, all measured in turn in the same run:
//   outpost --version                  nothing but loading the CLI and dispatching
//   outpost project list               one GET against a running control plane
//   outpost exec <sandbox> -- true     one exec through the API (when sandboxes can run here)
// A command's own overhead = its median − node -e 0's median − its API call's median. The
// goal (issue "Control plane ready for many features and many users") is ≤ 150 ms.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { cpus } from "node:os";
import { join } from "node:path";
import { FRAMES_CONTENT_TYPE } from "../src/supervisor/frames.ts";
import { deferCleanup } from "./lib/cleanup.ts";
import { ms, ratio, table, timing } from "./lib/format.ts";
import { benchDataDir, REPO_ROOT, spawnControlPlane, stopGracefully, waitReady } from "./lib/outpost.ts";
import { summarize } from "./lib/stats.ts";

const OUTPOST_BIN = join(REPO_ROOT, "bin", "outpost.js");
export const CLI_OVERHEAD_GOAL_MS = 150;

export interface CliCommandTimes {
  label: string;
  /** Wall time of the whole `outpost …` process. */
  ms: number[];
  /** The same API call from this (already running) process, on a new connection each time. */
  apiMs?: number[];
}

export interface CliStartResults {
  nodeMs: number[];
  commands: CliCommandTimes[];
  /** Why a command was not measured. */
  skipped: string[];
}

/** The environment of a CLI child: this one's minus Outpost settings, plus `extra`. */
function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("OUTPOST_") && key !== "DATABASE_URL") env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to its exit; resolves its wall time and output, throws if it failed. */
async function run(command: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(process.execPath, command, { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  const elapsed = performance.now() - started;
  if (code !== 0) throw new Error(`\`node ${command.join(" ")}\` exited with code ${code} (signal ${signal}):\n${stderr}`);
  return { ms: elapsed, stdout };
}

/** One HTTP request on a fresh connection (as a CLI process makes it), read to the end. */
function timeRequest(url: string, token: string, method: string, path: string, body?: unknown, accept = "application/json"): Promise<number> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      {
        method,
        agent: false,
        headers: { authorization: `Bearer ${token}`, accept, ...(payload ? { "content-type": "application/json" } : {}) },
      },
      (response) => {
        response.resume();
        response.on("error", reject);
        response.on("end", () => {
          if ((response.statusCode ?? 0) >= 300) reject(new Error(`${method} ${path} answered ${response.statusCode}`));
          else resolve(performance.now() - started);
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

export async function benchCliStart(runs = 10, log: (line: string) => void = () => {}): Promise<CliStartResults> {
  const results: CliStartResults = { nodeMs: [], commands: [], skipped: [] };
  const dataDir = benchDataDir("outpost-bench-cli-");
  // On failure, run.ts's cleanups delete the sandboxes, then stop the control plane.
  const plane = await spawnControlPlane(dataDir);
  await waitReady(plane);
  const env = cliEnv({ OUTPOST_DATA_DIR: dataDir });
  const outpost = (...args: string[]) => run([OUTPOST_BIN, ...args], env);
  const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();

  const version: CliCommandTimes = { label: "outpost --version", ms: [] };
  const list: CliCommandTimes = { label: "outpost project list", ms: [], apiMs: [] };
  results.commands.push(version, list);
  await outpost("project", "create", "cli-bench");

  // exec needs a running sandbox: created through the CLI, and every sandbox of the
  // project deleted at the end (also one whose creation failed), since sandboxes outlive
  // the control plane.
  const deleteSandboxes = async () => {
    const page = JSON.parse((await outpost("sandbox", "list", "--project", "cli-bench", "--all", "--json")).stdout) as { items: { id: string }[] };
    for (const sandbox of page.items) await outpost("sandbox", "delete", sandbox.id);
  };
  const deleted = deferCleanup("sandboxes of the CLI bench", deleteSandboxes);
  let exec: CliCommandTimes | undefined;
  let sandboxId: string | undefined;
  try {
    const created = JSON.parse((await outpost("sandbox", "create", "cli-bench", "--json")).stdout) as { id: string; phase: string };
    if (created.phase !== "running") throw new Error(`the sandbox is ${created.phase}, not running`);
    sandboxId = created.id;
    exec = { label: "outpost exec <sandbox> -- true", ms: [], apiMs: [] };
    results.commands.push(exec);
  } catch (error) {
    results.skipped.push(`outpost exec: no running sandbox on this host (${(error as Error).message.split("\n")[0]})`);
  }

  const execBody = { command: ["true"] };
  const execPath = `/api/v1/sandboxes/${sandboxId}/exec`;
  // One round not counted: the first of each loads files into the page cache.
  for (let i = -1; i < runs; i++) {
    const node = await run(["-e", "0"], env);
    const versionRun = await outpost("--version");
    const listRun = await outpost("project", "list");
    const listApi = await timeRequest(plane.url, token, "GET", "/api/v1/projects");
    const execRun = exec ? await outpost("exec", sandboxId!, "--", "true") : undefined;
    const execApi = exec ? await timeRequest(plane.url, token, "POST", execPath, execBody, FRAMES_CONTENT_TYPE) : undefined;
    if (i < 0) continue;
    results.nodeMs.push(node.ms);
    version.ms.push(versionRun.ms);
    list.ms.push(listRun.ms);
    list.apiMs!.push(listApi);
    if (exec && execRun && execApi !== undefined) {
      exec.ms.push(execRun.ms);
      exec.apiMs!.push(execApi);
    }
    log(
      `run ${i + 1}/${runs}: node -e 0 ${ms(node.ms)}, --version ${ms(versionRun.ms)}, project list ${ms(listRun.ms)}` +
        (execRun ? `, exec ${ms(execRun.ms)}` : ""),
    );
  }

  await deleteSandboxes();
  deleted();
  await stopGracefully(plane);
  return results;
}

export function cliStartReport(results: CliStartResults, load: { before: number; after: number }): string {
  const node = summarize(results.nodeMs);
  const rows = [
    ["median (min–max)", "whole process", "× node -e 0", "− node -e 0", "API call alone", "own overhead", `goal ≤ ${CLI_OVERHEAD_GOAL_MS} ms`],
    ["node -e 0", timing(node), "", "", "", "", ""],
  ];
  for (const command of results.commands) {
    const wall = summarize(command.ms);
    const api = command.apiMs ? summarize(command.apiMs).median : 0;
    const own = wall.median - node.median - api;
    rows.push([
      command.label,
      timing(wall),
      ratio(wall.median, node.median),
      ms(wall.median - node.median),
      command.apiMs ? ms(api) : "–",
      ms(own),
      own <= CLI_OVERHEAD_GOAL_MS ? "met" : "NOT met",
    ]);
  }
  return [
    "",
    `CLI start-up: \`node bin/outpost.js …\` from spawn to exit, next to \`node -e 0\` and the API call made from this process (N=${results.nodeMs.length}, in turn)`,
    `  ${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, Node ${process.version}; load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after`,
    table(rows),
    "  own overhead = whole process − node -e 0 − API call alone (medians): loading the CLI, the command, the HTTP client",
    ...results.skipped.map((line) => `  ! ${line}`),
    "",
  ].join("\n");
}
