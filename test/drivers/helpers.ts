// Shared setup for the local driver's tests: a throw-away data dir per test, a driver
// that runs the fake supervisor (from an /opt/outpost folder made for the test: the real
// Node 22 of dist/opt-outpost, the fake's script), a private uid-claims folder, and exec
// inside a sandbox through the link. Everything a test starts is removed in t.after.
import { chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import type { EnsureOptions, SandboxSpec, StageState, SupervisorLink } from "../../src/drivers/driver.ts";
import { pickHostUid } from "../../src/drivers/local/host-users.ts";
import { markerArgs } from "../../src/drivers/local/launcher.ts";
import { sandboxMarker, sandboxPaths } from "../../src/drivers/local/layout.ts";
import { LocalDriver, type LocalDriverOptions } from "../../src/drivers/local/local-driver.ts";
import { builtOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import { allPids, pidsWithArgs, realUidOf, runningPidsOfUid } from "../../src/drivers/local/processes.ts";
import { readSpec } from "../../src/drivers/local/runtime.ts";

export const FAKE_SUPERVISOR = fileURLToPath(new URL("./fixtures/fake-supervisor.mjs", import.meta.url));
export const isRoot = process.getuid?.() === 0;

/** An /opt/outpost folder whose supervisor.js is `script` (default: the fake), with the real node. */
export function outpostDirWith(dataDir: string, script = FAKE_SUPERVISOR): string {
  const dir = join(dataDir, "opt-outpost");
  mkdirSync(join(dir, "bin"), { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "bin"), 0o755);
  const node = join(builtOutpostDir(), "bin", "node");
  if (!existsSync(node)) throw new Error(`${node} is missing: run npm run build`);
  try {
    linkSync(node, join(dir, "bin", "node"));
  } catch {
    copyFileSync(node, join(dir, "bin", "node"));
  }
  copyFileSync(script, join(dir, "supervisor.js"));
  chmodSync(join(dir, "supervisor.js"), 0o644);
  return dir;
}

export interface TestBed {
  /** The pretend data dir (0711, like a real one must be for sandbox uids to pass). */
  dataDir: string;
  /** <dataDir>/sandboxes */
  root: string;
  driver: LocalDriver;
  /** What `driver` was made with (root, outpostDir, claims folder, uid range…). */
  options: LocalDriverOptions;
  /** Another driver on the same root and options, as a restarted control plane makes one
   *  (not started: call start() like the control plane does); closed after the test. */
  restarted(): LocalDriver;
}

export function testBed(t: TestContext, options: Partial<LocalDriverOptions> = {}): TestBed {
  const dataDir = mkdtempSync(join(tmpdir(), "outpost-driver-"));
  chmodSync(dataDir, 0o711);
  const root = join(dataDir, "sandboxes");
  const driverOptions: LocalDriverOptions = {
    root,
    outpostDir: options.outpostDir ?? outpostDirWith(dataDir),
    hostUidClaimsDir: join(dataDir, "host-uids"),
    hostUidRange: testUidRange(),
    readyTimeoutMs: 20_000,
    ...options,
  };
  const driver = new LocalDriver(driverOptions);
  const others: LocalDriver[] = [];
  t.after(async () => {
    for (const id of await driver.list()) await driver.remove(id, { keepWorkspace: false, signal: AbortSignal.timeout(30_000) });
    for (const other of [driver, ...others]) await other.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const restarted = () => {
    const other = new LocalDriver(driverOptions);
    others.push(other);
    return other;
  };
  return { dataDir, root, driver, options: driverOptions, restarted };
}

/** Host processes of a sandbox: its bwrap processes (found by their marker) and, when
 *  given, every process of its host uid. Empty once nothing of it runs. */
export function processesOf(root: string, sandboxId: string, hostUid?: number): number[] {
  const marked = pidsWithArgs(markerArgs(sandboxMarker(root, sandboxId)));
  return [...new Set([...marked, ...(hostUid === undefined ? [] : runningPidsOfUid(hostUid))])];
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

/** A small uid range of its own for each test bed: test files run in parallel processes,
 *  each with its own claims folder, so their ranges must not overlap (the driver SIGKILLs
 *  every process of a sandbox's uid when it stops it). Upper half of the reserved range,
 *  clear of the low uids a control plane on this machine hands out first. */
export function testUidRange(): { first: number; last: number } {
  const uid = freshHostUid();
  for (let next = uid + 1; next < uid + 8; next++) handedOut.add(next);
  return { first: uid, last: Math.min(uid + 7, 299_999) };
}

let counter = 0;
export function specFor(name: string, extra: Partial<SandboxSpec> = {}): SandboxSpec {
  counter += 1;
  const sandboxId = `sbx_t${process.pid}_${counter}`;
  return { sandboxId, name, ...extra };
}

/** The host uid the driver gave the sandbox (root only). */
export const hostUidOf = (handle: { driverState: Record<string, unknown> }): number | undefined =>
  typeof handle.driverState.hostUid === "number" ? handle.driverState.hostUid : undefined;

/** The host uid the driver recorded in the sandbox's spec.json (root only; also when
 *  ensure failed and there is no handle). */
export const recordedHostUid = (root: string, sandboxId: string): number | undefined => readSpec(sandboxPaths(root, sandboxId).specFile)?.hostUid;

export interface StageEvent {
  stage: string;
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

/** Runs argv inside the sandbox through its link (buffered: fine for tests). */
export async function execIn(target: SupervisorLink | { link: SupervisorLink }, command: string[]): Promise<ExecResult> {
  const link = "link" in target ? target.link : target;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  for await (const event of await link.client.exec({ command }, { signal: AbortSignal.timeout(60_000) })) {
    if (event.type === "stdout") out.push(Buffer.from(event.data, "base64"));
    else if (event.type === "stderr") err.push(Buffer.from(event.data, "base64"));
    else if (event.type === "exit") return { exitCode: event.exitCode ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
  }
  throw new Error("the exec stream ended without an exit");
}

/** Shell one-liner inside the sandbox. */
export const shIn = (target: SupervisorLink | { link: SupervisorLink }, script: string) => execIn(target, ["/bin/sh", "-c", script]);
