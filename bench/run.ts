// `npm run bench`: start-up and idle memory of the control plane with its embedded
// PostgreSQL, next to an in-process PGlite store measured in the same run. Runs each
// benchmark file in turn (progress on stderr), then prints one summary (stdout). Writes
// nothing outside temp dirs, and stops every process it started, also on failure or Ctrl-C.
import { loadavg } from "node:os";
import { benchControlPlaneMemory } from "./control-plane-memory.ts";
import { benchControlPlaneStart } from "./control-plane-start.ts";
import { runCleanups } from "./lib/cleanup.ts";
import { benchPglite } from "./pglite.ts";
import { report } from "./report.ts";

const RUNS = 5;
const PGLITE_RUNS = 3;
const IDLE_MS = 3_000;

const progress = (line: string) => process.stderr.write(`  · ${line}\n`);

async function main(): Promise<void> {
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
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\nbench: ${signal}; stopping everything it started...\n`);
    void runCleanups().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
} finally {
  if (!interrupted) await runCleanups();
}
