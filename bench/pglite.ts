// The baseline: an in-process PGlite store, each open in a child Node process of its own so
// its memory is measured apart from this one. pglite-child.ts does the work; here it is
// compiled to plain JS (types stripped, no tsx loader in the child), spawned and timed.
//   first open  a fresh dir: new PGlite + waitReady + the repo's migrations + insert/select
//   reopen      the first run's dir again (migrations already recorded, so only checked)
// The wall time runs from spawn to the child's report, like the control plane's to /readyz.
// An idle `node` process is measured too, to tell PGlite's share of the child's memory.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { transform } from "esbuild";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { REPO_ROOT } from "./lib/outpost.ts";
import { type Memory, processMemory } from "./lib/proc.ts";

export interface MigrationFailure {
  file: string;
  statement: string;
  error: string;
}

export interface PgliteRun {
  wallMs: number;
  importMs: number;
  openMs: number;
  migrateMs: number;
  queryMs: number;
  closeMs: number;
  applied: string[];
  failures: MigrationFailure[];
  fallback: boolean;
  postgres: string;
  afterOpen: Memory;
  /** After `idleMs` more, on the first run of each kind only. */
  idle?: Memory;
}

export interface PgliteResults {
  version: string;
  idleMs: number;
  firstOpen: PgliteRun[];
  reopen: PgliteRun[];
  /** A bare `node` process idling, for comparison with the child. */
  emptyNode: Memory;
}

interface ChildReport {
  ok: boolean;
  error?: string;
  postgres: string;
  importMs: number;
  openMs: number;
  migrateMs: number;
  queryMs: number;
  applied: string[];
  failures: MigrationFailure[];
  fallback: boolean;
}

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  deferCleanup(`temp dir ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function track(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const done = deferCleanup(`child ${child.pid}`, async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL");
      await exited;
    }
  });
  void exited.then(done);
  return exited;
}

async function runChild(script: string, dataDir: string, idleMs: number | undefined): Promise<PgliteRun> {
  const pgliteUrl = import.meta.resolve("@electric-sql/pglite");
  const started = performance.now();
  const child = spawn(process.execPath, [script, dataDir, pgliteUrl, join(REPO_ROOT, "migrations")], {
    cwd: REPO_ROOT,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = track(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error(`the PGlite child exited without a report:\n${stderr}`);
    return JSON.parse(line.value) as Record<string, unknown>;
  };

  const report = (await next()) as unknown as ChildReport;
  const wallMs = performance.now() - started;
  if (!report.ok) throw new Error(`the PGlite child failed: ${report.error}\n${stderr}`);
  const afterOpen = processMemory(child.pid!);
  if (!afterOpen) throw new Error("the PGlite child vanished before its memory was read");
  let idle: Memory | undefined;
  if (idleMs !== undefined) {
    await sleep(idleMs);
    idle = processMemory(child.pid!);
  }
  child.stdin!.end("close\n");
  const { closeMs } = (await next()) as { closeMs: number };
  await exited;
  if (child.exitCode !== 0) throw new Error(`the PGlite child exited with code ${child.exitCode}:\n${stderr}`);
  const { ok: _ok, error: _error, ...figures } = report;
  return { ...figures, wallMs, closeMs, afterOpen, idle };
}

/** PSS/RSS of a bare `node` process after it idled for a second. */
async function emptyNodeMemory(): Promise<Memory> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 60_000)"], { stdio: "ignore" });
  const exited = track(child);
  try {
    await sleep(1_000);
    const memory = processMemory(child.pid!);
    if (!memory) throw new Error("the idle node process vanished");
    return memory;
  } finally {
    child.kill("SIGKILL");
    await exited;
  }
}

export async function benchPglite(runs = 3, idleMs = 3_000, log: (line: string) => void = () => {}): Promise<PgliteResults> {
  const scriptDir = tempDir("outpost-bench-pglite-js-");
  const source = readFileSync(new URL("./pglite-child.ts", import.meta.url), "utf8");
  const { code } = await transform(source, { loader: "ts", format: "esm", target: "node20" });
  const script = join(scriptDir, "pglite-child.mjs");
  writeFileSync(script, code);
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", "@electric-sql", "pglite", "package.json"), "utf8")) as { version: string }).version;

  const firstOpen: PgliteRun[] = [];
  const reopen: PgliteRun[] = [];
  const dirs: string[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const dir = tempDir("outpost-bench-pglite-");
      dirs.push(dir);
      firstOpen.push(await runChild(script, dir, i === 0 ? idleMs : undefined));
      log(`pglite first open ${i + 1}/${runs}: ${firstOpen[i]!.wallMs.toFixed(0)} ms`);
    }
    for (let i = 0; i < runs; i++) {
      reopen.push(await runChild(script, dirs[0]!, i === 0 ? idleMs : undefined));
      log(`pglite reopen ${i + 1}/${runs}: ${reopen[i]!.wallMs.toFixed(0)} ms`);
    }
  } finally {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
  return { version, idleMs, firstOpen, reopen, emptyNode: await emptyNodeMemory() };
}
