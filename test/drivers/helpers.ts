// Shared setup for the local driver's tests: a throw-away data dir per test, a driver
// that runs the fake supervisor, unique host uids, and exec inside a sandbox through the
// fake supervisor's POST /v1/exec. Everything a test starts is removed in t.after.
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { EnsureOptions, SandboxSpec, StageName, StageState } from "../../src/drivers/driver.ts";
import { pickHostUid } from "../../src/drivers/local/host-users.ts";
import { LocalDriver, type LocalDriverOptions } from "../../src/drivers/local/local-driver.ts";
import { allPids, realUidOf } from "../../src/drivers/local/processes.ts";

export const FAKE_SUPERVISOR = fileURLToPath(new URL("./fixtures/fake-supervisor.mjs", import.meta.url));
export const isRoot = process.getuid?.() === 0;

export interface TestBed {
  /** The pretend data dir (0711, like a real one must be for sandbox uids to pass). */
  dataDir: string;
  /** <dataDir>/sandboxes */
  root: string;
  driver: LocalDriver;
}

export function testBed(t: TestContext, options: Partial<LocalDriverOptions> = {}): TestBed {
  const dataDir = mkdtempSync(join(tmpdir(), "outpost-driver-"));
  chmodSync(dataDir, 0o711);
  const root = join(dataDir, "sandboxes");
  const driver = new LocalDriver({ root, supervisorBundle: FAKE_SUPERVISOR, readyTimeoutMs: 20_000, ...options });
  t.after(async () => {
    for (const id of await driver.list()) await driver.remove(id, { keepWorkspace: false, signal: AbortSignal.timeout(30_000) });
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { dataDir, root, driver };
}

const handedOut = new Set<number>();

/** A uid from the reserved range that no process uses and no other test in this process
 *  got. Test files run in parallel processes, so start at a random point; and stay in the
 *  upper half, clear of the low uids a control plane on this machine hands out first
 *  (the driver SIGKILLs every process of a sandbox's uid when it stops it). */
export function freshHostUid(): number {
  const busy = new Set(allPids().map((pid) => realUidOf(pid) ?? -1));
  const first = 250_000 + Math.floor(Math.random() * 45_000);
  const uid = pickHostUid([...busy, ...handedOut], { first, last: 299_999 });
  handedOut.add(uid);
  return uid;
}

let counter = 0;
export function specFor(name: string, extra: Partial<SandboxSpec> = {}): SandboxSpec {
  counter += 1;
  const sandboxId = `sbx_t${process.pid}_${counter}`;
  return { sandboxId, name, ...(isRoot ? { hostUid: freshHostUid() } : {}), ...extra };
}

export interface StageEvent {
  stage: StageName;
  state: StageState;
  message?: string;
}

/** EnsureOptions that record the stages, with a generous overall deadline. */
export function ensureOptions(events: StageEvent[] = [], timeoutMs = 60_000): EnsureOptions {
  return { onStage: (stage, state, message) => events.push({ stage, state, message }), signal: AbortSignal.timeout(timeoutMs) };
}

export const stopOptions = (graceMs?: number) => ({ signal: AbortSignal.timeout(60_000), graceMs });

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs argv inside the sandbox through the fake supervisor. */
export function execIn(socketPath: string, command: string[]): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/v1/exec", method: "POST", agent: false, headers: { "content-type": "application/json" } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        if (res.statusCode !== 200) return reject(new Error(`exec answered ${res.statusCode}: ${text}`));
        resolve(JSON.parse(text) as ExecResult);
      });
    });
    req.on("error", reject);
    req.end(JSON.stringify({ command }));
  });
}

/** Shell one-liner inside the sandbox. */
export const shIn = (socketPath: string, script: string) => execIn(socketPath, ["/bin/sh", "-c", script]);
