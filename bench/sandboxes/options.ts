// Sizes of the sandbox bench: defaults that keep a whole `npm run bench -- sandboxes` within
// a few minutes on a 2-core machine, each overridable by an environment variable.
import { envInt } from "../lib/env.ts";

export interface SandboxBenchOptions {
  /** Sequential create → running → delete → deleted cycles. */
  lifecycleRuns: number;
  execRuns: number;
  /** Spawns of each bare bwrap baseline (/bin/true, node -e 0, node supervisor.js). */
  bwrapRuns: number;
  srtRuns: number;
  /** Runs of each streamed exec (frames, SSE) and of the host pipes. */
  streamRuns: number;
  streamBytes: number;
  /** Idle running sandboxes (each with its supervisor link) for the memory reading. */
  idleSandboxes: number;
  /** Quiet time before each memory reading. */
  idleMs: number;
}

/** Defaults, each overridable by an environment variable. */
export function sandboxBenchOptions(): SandboxBenchOptions {
  return {
    lifecycleRuns: envInt("OUTPOST_BENCH_LIFECYCLE_RUNS", 30, 1),
    execRuns: envInt("OUTPOST_BENCH_EXEC_RUNS", 100, 1),
    bwrapRuns: envInt("OUTPOST_BENCH_BWRAP_RUNS", 30, 1),
    srtRuns: envInt("OUTPOST_BENCH_SRT_RUNS", 20, 1),
    streamRuns: envInt("OUTPOST_BENCH_STREAM_RUNS", 3, 1),
    streamBytes: envInt("OUTPOST_BENCH_STREAM_BYTES", 200_000_000, 1),
    idleSandboxes: envInt("OUTPOST_BENCH_SANDBOXES", 100, 0),
    idleMs: envInt("OUTPOST_BENCH_IDLE_MS", 5_000, 0),
  };
}

export const OPTION_ENV = [
  "OUTPOST_BENCH_LIFECYCLE_RUNS",
  "OUTPOST_BENCH_EXEC_RUNS",
  "OUTPOST_BENCH_BWRAP_RUNS",
  "OUTPOST_BENCH_SRT_RUNS",
  "OUTPOST_BENCH_STREAM_RUNS",
  "OUTPOST_BENCH_STREAM_BYTES",
  "OUTPOST_BENCH_SANDBOXES",
  "OUTPOST_BENCH_IDLE_MS",
];
