// Runs Outpost the way a user does: the built binary (`node bin/outpost.js`, which loads
// dist/outpost.js, so run `npm run build` first) as child processes. One `outpost serve`
// per test file on a free port with a fresh data dir; CLI commands are spawned against it.
// Nothing here sleeps for a fixed time: it waits for output lines, process exits, or polls
// /healthz in a bounded loop.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const OUTPOST_BIN = join(REPO_ROOT, "bin", "outpost.js");

import { freePort } from "../helpers/process.ts";

export { freePort };

export function tempDir(prefix = "outpost-cli-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The environment a CLI or server child gets: this process's, minus every Outpost setting
 * (a developer's OUTPOST_URL or DATABASE_URL must not leak into the test), plus `extra`.
 */
export function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("OUTPOST_") || key === "DATABASE_URL") continue;
    env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `node bin/outpost.js ...args` and collects its output until it exits. */
export function spawnOutpost(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  if (!existsSync(join(REPO_ROOT, "dist", "outpost.js"))) throw new Error("dist/outpost.js is missing: run `npm run build` first");
  return spawn(process.execPath, [OUTPOST_BIN, ...args], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs one CLI command to completion (killed after `timeoutMs`, which fails the test). */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 30_000): Promise<CliResult> {
  const child = spawnOutpost(args, childEnv(env));
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (c, s) => resolve([c, s]));
  });
  clearTimeout(timer);
  if (timedOut) throw new Error(`outpost ${args.join(" ")} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`);
  return { code, signal, stdout, stderr };
}

/** A readable stream's text so far, and a way to wait until it matches. */
export class OutputWatcher {
  text = "";
  private waiters: { test: (text: string) => boolean; resolve: () => void }[] = [];
  private ended = false;
  private endWaiters: (() => void)[] = [];

  constructor(stream: NodeJS.ReadableStream | null | undefined) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => {
      this.text += chunk;
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(this.text)) return true;
        w.resolve();
        return false;
      });
    });
    stream?.on("end", () => {
      this.ended = true;
      for (const resolve of this.endWaiters) resolve();
    });
  }

  /**
   * Resolves once the output matches; rejects when `exited` settles first (the process
   * died), or after `timeoutMs`.
   */
  waitFor(test: RegExp | ((text: string) => boolean), options: { timeoutMs?: number; exited?: Promise<unknown>; what?: string } = {}): Promise<string> {
    const predicate = typeof test === "function" ? test : (text: string) => test.test(text);
    const what = options.what ?? String(test);
    if (predicate(this.text)) return Promise.resolve(this.text);
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`timed out after ${options.timeoutMs ?? 20_000} ms waiting for ${what}; output so far:\n${this.text}`)),
        options.timeoutMs ?? 20_000,
      );
      const waiter = {
        test: predicate,
        resolve: () => {
          clearTimeout(timer);
          resolve(this.text);
        },
      };
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(error);
      };
      this.waiters.push(waiter);
      options.exited?.then(
        () => fail(new Error(`the process exited while waiting for ${what}; output so far:\n${this.text}`)),
        (error: Error) => fail(error),
      );
    });
  }

  /** Resolves when the stream has ended (all output read). */
  async drained(): Promise<string> {
    if (!this.ended) await new Promise<void>((resolve) => this.endWaiters.push(resolve));
    return this.text;
  }
}

/** Resolves with the exit code and signal once `child` has exited. */
export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, signal) => resolve({ code, signal }));
  });
}

/** Sends `signal`, waits up to `timeoutMs` for the exit, then SIGKILLs. Returns how it ended. */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", timeoutMs = 20_000) {
  const exited = exitOf(child);
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`process ${child.pid} ignored ${signal} for ${timeoutMs} ms and was killed`);
  }
  return result;
}

export interface OutpostServer {
  url: string;
  port: number;
  token: string;
  dataDir: string;
  /** Everything `outpost serve` wrote to stderr up to its start-up banner. */
  banner: string;
  /** The one-time login link from the banner. */
  loginUrl: string;
  child: ChildProcess;
  stderr: OutputWatcher;
  /** Env for CLI commands that find the server through its data dir. */
  cliEnv: Record<string, string>;
  /** Stops the server with SIGTERM (it stops its embedded database) and removes the data dir. */
  stop(): Promise<void>;
}

/** `outpost serve` in a fresh data dir on a free port; resolves when /healthz answers. */
export async function startOutpost(options: { env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<OutpostServer> {
  const dataDir = tempDir("outpost-serve-test-");
  const port = await freePort();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const child = spawnOutpost(
    ["serve"],
    childEnv({ OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(port), OUTPOST_LOG_LEVEL: "warn", OUTPOST_DATABASE_PROVISIONER: "none", ...options.env }),
  );
  const stdout = new OutputWatcher(child.stdout);
  const stderr = new OutputWatcher(child.stderr);
  const exited = exitOf(child);
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    try {
      await stopProcess(child, "SIGTERM");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  try {
    const banner = await stderr.waitFor(/\/login\?code=\S+\s*\n/, { timeoutMs, exited, what: "the start-up banner" }).catch((error: Error) => {
      throw new Error(`${error.message}\nstdout:\n${stdout.text}`);
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${url}/healthz did not answer within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const loginUrl = /(http:\/\/\S+\/login\?code=\S+)/.exec(banner)?.[1];
    if (!loginUrl) throw new Error(`no login link in the banner:\n${banner}`);
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    return { url, port, token, dataDir, banner, loginUrl, child, stderr, cliEnv: { OUTPOST_DATA_DIR: dataDir }, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** fetch against the server with the admin token; JSON in and out. */
export async function apiJson<T = unknown>(
  server: { url: string; token: string },
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
}

/** A stack trace frame such as "    at main (file.js:1:2)". */
export const STACK_FRAME = /^\s+at\s/m;
