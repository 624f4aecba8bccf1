// Runs the built control plane (`node bin/outpost.js serve`) as a child process on a free
// port and a given data dir, waits for GET /readyz to answer 200, stops it gracefully
// (SIGTERM: it stops its database too) or kills it (SIGKILL: the database keeps running),
// and finds and stops the embedded postmaster of a data dir.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deferCleanup, sleep } from "./cleanup.ts";
import { commandLine, isAlive, processesMentioning } from "./proc.ts";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUTPOST_BIN = join(REPO_ROOT, "bin", "outpost.js");

const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 10;

/** A port nothing listens on right now (bound to 0, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== "object" || !address) throw new Error("could not find a free port");
  return address.port;
}

/** A fresh temp dir; at cleanup its postmaster (if any) is stopped and the dir removed. */
export function benchDataDir(prefix = "outpost-bench-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  deferCleanup(`data dir ${dir}`, async () => {
    await stopPostmaster(dir);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** The embedded postmaster running on this data dir, if any (checked against its command line). */
export function postmasterPid(dataDir: string): number | undefined {
  const pgData = join(dataDir, "postgres", "data");
  const pidFile = join(pgData, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 1 || !isAlive(pid)) return undefined;
  // A stale pid file may name a pid reused by something else: never signal that.
  return commandLine(pid).includes(pgData) ? pid : undefined;
}

/** process.kill that tolerates a process which exited meanwhile. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

/**
 * Stops whatever PostgreSQL runs on this data dir: waits for a `pg_ctl start` still in
 * flight (a control plane killed mid-start), then SIGINT (fast shutdown) to the postmaster,
 * SIGKILL after 15 s. Only processes whose command line names this data dir are touched.
 */
export async function stopPostmaster(dataDir: string): Promise<void> {
  const pgData = join(dataDir, "postgres", "data");
  const mentions = () => processesMentioning(`-D ${pgData}`);
  const ctlDeadline = Date.now() + 15_000;
  while (mentions().some((pid) => commandLine(pid).includes("pg_ctl")) && Date.now() < ctlDeadline) await sleep(50);
  const pids = new Set(mentions().filter((pid) => !commandLine(pid).includes("pg_ctl")));
  const fromFile = postmasterPid(dataDir);
  if (fromFile !== undefined) pids.add(fromFile);
  for (const pid of pids) signal(pid, "SIGINT");
  const deadline = Date.now() + 15_000;
  for (const pid of pids) {
    while (isAlive(pid)) {
      if (Date.now() > deadline) {
        process.stderr.write(`bench: postmaster ${pid} ignored SIGINT for 15 s; sending SIGKILL\n`);
        signal(pid, "SIGKILL");
        break;
      }
      await sleep(20);
    }
  }
}

export interface ControlPlane {
  pid: number;
  dataDir: string;
  url: string;
  child: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last few kB of its stdout and stderr, for error messages. */
  output(): string;
}

/** `env`: OUTPOST_* settings on top of the data dir, port and log level (e.g. capacity). */
export async function spawnControlPlane(dataDir: string, extraEnv: Record<string, string> = {}): Promise<ControlPlane> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("OUTPOST_") && key !== "DATABASE_URL") env[key] = value;
  }
  Object.assign(env, extraEnv, { OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(port), OUTPOST_LOG_LEVEL: "warn" });
  const child = spawn(process.execPath, [OUTPOST_BIN, "serve"], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-4000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
  if (child.pid === undefined) {
    const error = await new Promise<Error>((resolve) => child.once("error", resolve));
    throw new Error(`could not start the control plane: ${error.message}`);
  }
  const done = deferCleanup(`control plane ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  void exited.then(done);
  return { pid: child.pid, dataDir, url: `http://127.0.0.1:${port}`, child, exited, output: () => output };
}

/** The HTTP status of GET url, or undefined when nothing answers yet. */
function status(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = get(url, { agent: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(undefined));
  });
}

/** Polls /readyz until it answers 200; throws if the process exits or the timeout passes. */
export async function waitReady(plane: ControlPlane, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void plane.exited.then((result) => {
    exit = result;
  });
  while (true) {
    if ((await status(`${plane.url}/readyz`)) === 200) return;
    if (exit) throw new Error(`control plane exited (code ${exit.code}, signal ${exit.signal}) before /readyz answered 200:\n${plane.output()}`);
    if (Date.now() > deadline) throw new Error(`/readyz did not answer 200 within ${timeoutMs} ms:\n${plane.output()}`);
    await sleep(POLL_MS);
  }
}

/** Spawns the control plane and measures the wall time until /readyz answers 200. */
export async function startTimed(dataDir: string, extraEnv: Record<string, string> = {}): Promise<{ plane: ControlPlane; ms: number }> {
  const started = performance.now();
  const plane = await spawnControlPlane(dataDir, extraEnv);
  await waitReady(plane);
  return { plane, ms: performance.now() - started };
}

async function exitWithin(plane: ControlPlane, ms: number): Promise<boolean> {
  // A plain sleep would keep the bench process alive for the whole `ms` after the exit.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([plane.exited.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM and wait for the exit; checks that the database was stopped too. Returns the ms taken. */
export async function stopGracefully(plane: ControlPlane): Promise<number> {
  const started = performance.now();
  plane.child.kill("SIGTERM");
  if (!(await exitWithin(plane, 30_000))) throw new Error(`control plane ${plane.pid} did not exit within 30 s of SIGTERM:\n${plane.output()}`);
  const ms = performance.now() - started;
  const { code, signal } = await plane.exited;
  if (code !== 0) throw new Error(`control plane exited with code ${code} (signal ${signal}) after SIGTERM:\n${plane.output()}`);
  const leftover = postmasterPid(plane.dataDir);
  if (leftover !== undefined) throw new Error(`the postmaster (pid ${leftover}) still runs after a graceful stop of the control plane`);
  return ms;
}

/** SIGKILL and wait for the exit; the database is expected to keep running. */
export async function killHard(plane: ControlPlane): Promise<void> {
  plane.child.kill("SIGKILL");
  await plane.exited;
}
