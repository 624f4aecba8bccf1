// Runs the built `outpost serve` as a separate process, the way a user runs it, so tests
// can kill -9 it. Waits on events (the server answering), never on fixed sleeps.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { packageRoot } from "../../src/package-root.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts `node bin/outpost.js serve` and resolves once /readyz answers 200 and the whole banner is out. */
export async function spawnServe(dataDir: string, env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = await freePort();
  let output = "";
  const child = spawn(process.execPath, [join(packageRoot(), "bin", "outpost.js"), "serve"], {
    // No project databases unless the test asks (a second PostgreSQL per server otherwise).
    env: { ...process.env, OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(port), OUTPOST_LOG_LEVEL: "warn", OUTPOST_DATABASE_PROVISIONER: "none", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (true) {
    const exitCode = await Promise.race([exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 100))]);
    if (exitCode !== "running") throw new Error(`outpost serve exited (${exitCode}) before it was ready:\n${output}`);
    const ready = await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    // The banner is written just after the server listens: wait for it too, or a test that
    // reads it could look in the gap.
    if (ready && /login\?code=\S+\n[\s\S]*Data dir: .*\n/.test(output)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`outpost serve was not ready within 60 s:\n${output}`);
    }
  }
  return { child, url, output: () => output, exited };
}

export function adminToken(dataDir: string): string {
  return readFileSync(join(dataDir, "admin-token"), "utf8").trim();
}

/** The embedded postmaster's pid, from its pid file; null when it is not running. */
export function postmasterPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(dataDir, "postgres", "data", "postmaster.pid"), "utf8").split("\n")[0]);
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Resolves once `pid` no longer exists. */
export async function waitForExit(pid: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`process ${pid} still running after ${timeoutMs} ms`);
}
