// Sizes of the git bench: a repository as large as the issue asks (50 000 files) by
// default, each overridable by an environment variable (a small one for trying it out).
import { envInt } from "../lib/env.ts";

export interface GitBenchOptions {
  /** Files in the generated repository's single commit. */
  files: number;
  /** Timed runs of each clone and checkpoint way, in turn; the median is reported. */
  runs: number;
  /** Sandboxes created for the project (each clones the repository in its `repository` stage). */
  sandboxes: number;
  /** Tracked files edited (and as many untracked ones added) before the "dirty" checkpoints. */
  edits: number;
}

export function gitBenchOptions(): GitBenchOptions {
  return {
    files: envInt("OUTPOST_BENCH_GIT_FILES", 50_000, 1),
    runs: envInt("OUTPOST_BENCH_GIT_RUNS", 3, 1),
    sandboxes: envInt("OUTPOST_BENCH_GIT_SANDBOXES", 1, 1),
    edits: envInt("OUTPOST_BENCH_GIT_EDITS", 100, 0),
  };
}

export const GIT_OPTION_ENV = ["OUTPOST_BENCH_GIT_FILES", "OUTPOST_BENCH_GIT_RUNS", "OUTPOST_BENCH_GIT_SANDBOXES", "OUTPOST_BENCH_GIT_EDITS"];
