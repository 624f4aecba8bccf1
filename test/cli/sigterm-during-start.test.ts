// A signal that arrives while `outpost serve` is still starting stops it cleanly: exit code
// 0 and no PostgreSQL left running on its data dir. Kubernetes sends SIGTERM during rollouts,
// typically just as /readyz first answers and before the start-up banner; Node's default
// handler used to kill the process there and leave its database running.
// Each test sends the signal at one moment of start-up, found by watching the process (its
// first log line, or /readyz answering), never by a fixed delay.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { childEnv, exitOf, freePort, OutputWatcher, spawnOutpost, tempDir } from "./harness.ts";

const dirs: string[] = [];

after(async () => {
  // Only after a failure is something left: stop it rather than leak it into later tests.
  for (const dir of dirs) {
    for (const pid of processesOf(dir)) signal(pid, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** Pids whose command line names this data dir's database (postmaster, pg_ctl, initdb). */
function processesOf(dataDir: string): number[] {
  const needle = join(dataDir, "postgres");
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").includes(needle)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The pid in postmaster.pid when that process still exists; PostgreSQL removes the file at a clean stop. */
function livePostmaster(dataDir: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, "postgres", "data", "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return null;
  }
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** `outpost serve` with info logs (so that start-up prints log lines before the banner). */
async function startServe(dataDir: string) {
  const port = await freePort();
  const child = spawnOutpost(["serve"], childEnv({ OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(port), OUTPOST_LOG_LEVEL: "info" }));
  const stdout = new OutputWatcher(child.stdout);
  const stderr = new OutputWatcher(child.stderr);
  const exited = exitOf(child);
  const output = () => `stdout:\n${stdout.text}\nstderr:\n${stderr.text}`;
  return { child, stdout, stderr, exited, output, url: `http://127.0.0.1:${port}` };
}

type Serve = Awaited<ReturnType<typeof startServe>>;

/** Polls /readyz as fast as it answers; resolves at the first 200. */
async function firstReady(serve: Serve, timeoutMs = 120_000): Promise<void> {
  let exit: unknown;
  void serve.exited.then((result) => {
    exit = result;
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${serve.url}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    if (exit) throw new Error(`outpost serve exited (${JSON.stringify(exit)}) before /readyz answered:\n${serve.output()}`);
    if (Date.now() > deadline) throw new Error(`/readyz did not answer within ${timeoutMs} ms:\n${serve.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits for the exit (SIGKILL and a failure after `timeoutMs`, a guard, not a measurement). */
async function exitAfterSignal(serve: Serve, timeoutMs = 60_000) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), timeoutMs);
  });
  const result = await Promise.race([serve.exited, timeout]);
  clearTimeout(timer);
  if (result === "timeout") {
    serve.child.kill("SIGKILL");
    await serve.exited;
    throw new Error(`outpost serve did not exit within ${timeoutMs} ms of the signal:\n${serve.output()}`);
  }
  return result;
}

function assertStoppedCleanly(dataDir: string, result: { code: number | null; signal: NodeJS.Signals | null }, serve: Serve) {
  assert.deepEqual(result, { code: 0, signal: null }, `exit after the signal:\n${serve.output()}`);
  assert.equal(livePostmaster(dataDir), null, `the postmaster named in postmaster.pid still runs:\n${serve.output()}`);
  assert.deepEqual(processesOf(dataDir), [], `processes of the data dir's database are left:\n${serve.output()}`);
  assert.match(serve.stdout.text, /"msg":"shutting down"/, "the stop is logged");
}

describe("a signal during start-up of outpost serve", () => {
  test("SIGTERM at the first log line (initdb under way on a fresh data dir) stops it and its database, exit 0", async () => {
    const dataDir = tempDir("outpost-sigterm-");
    dirs.push(dataDir);
    const serve = await startServe(dataDir);
    await serve.stdout.waitFor(/\n/, { exited: serve.exited, timeoutMs: 60_000, what: "the first log line" });
    serve.child.kill("SIGTERM");
    const result = await exitAfterSignal(serve);
    assertStoppedCleanly(dataDir, result, serve);
    assert.doesNotMatch(serve.stderr.text, /Outpost is running/, "a server told to stop during start-up prints no banner");
  });

  let warmDir: string | undefined;

  test("SIGTERM as soon as /readyz answers (before the banner) stops it and its database, exit 0", async () => {
    const dataDir = tempDir("outpost-sigterm-");
    dirs.push(dataDir);
    const serve = await startServe(dataDir);
    await firstReady(serve);
    serve.child.kill("SIGTERM");
    const result = await exitAfterSignal(serve);
    assertStoppedCleanly(dataDir, result, serve);
    warmDir = dataDir;
  });

  test("SIGINT as soon as /readyz answers on a restart of the same data dir: the same clean stop", async () => {
    assert.ok(warmDir, "needs the data dir of the previous test");
    const serve = await startServe(warmDir);
    await firstReady(serve);
    serve.child.kill("SIGINT");
    const result = await exitAfterSignal(serve);
    assertStoppedCleanly(warmDir, result, serve);
  });
});
