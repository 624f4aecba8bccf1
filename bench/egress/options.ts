// Sizes of the egress bench: defaults that keep `npm run bench -- egress` well within two
// minutes on a 2-core machine, each overridable by an environment variable.
import { envInt } from "../lib/env.ts";

export interface EgressBenchOptions {
  /** Timed requests of each way (all rounds together), after each process's warm-up. */
  requests: number;
  /** Rounds the requests are split into, each way once per round, in turn. */
  rounds: number;
  /** Untimed requests at the start of each client process (JIT, first connection). */
  warmUp: number;
  /** Size of each download, in MB (10^6 bytes). */
  downloadMb: number;
  /** Downloads of each way, in turn; the median is reported. */
  downloadRuns: number;
}

export function egressBenchOptions(): EgressBenchOptions {
  return {
    requests: envInt("OUTPOST_BENCH_EGRESS_REQUESTS", 300, 3),
    rounds: 3,
    warmUp: envInt("OUTPOST_BENCH_EGRESS_WARMUP", 20, 0),
    downloadMb: envInt("OUTPOST_BENCH_EGRESS_MB", 200, 1),
    downloadRuns: envInt("OUTPOST_BENCH_EGRESS_RUNS", 3, 1),
  };
}

export const EGRESS_OPTION_ENV = ["OUTPOST_BENCH_EGRESS_REQUESTS", "OUTPOST_BENCH_EGRESS_WARMUP", "OUTPOST_BENCH_EGRESS_MB", "OUTPOST_BENCH_EGRESS_RUNS"];
