// Under memory pressure the kernel's OOM killer must take the sandbox's commands before its
// supervisor: without the supervisor the sandbox ends and everything in it with it.
// Commands get a high oom_score_adj right after they start (raising it needs no privilege);
// the driver starts the supervisor itself lower where it can (as root, see local-driver).
import { writeFileSync } from "node:fs";

/** The badness added to every command the supervisor starts (the supervisor keeps its own). */
export const COMMAND_OOM_SCORE_ADJ = 500;

/** Best effort: a command that already exited, or a kernel without the file, is fine. */
export function preferForOomKill(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(COMMAND_OOM_SCORE_ADJ));
  } catch {
    // gone already, or not Linux
  }
}
