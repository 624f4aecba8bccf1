// Launching one sandbox and recording it, so that nothing of it ever runs untracked: a
// `launching` marker is written first (a kill before the record leaves strays that the
// next ensure sweeps), and while bwrap waits on its block fd the processes go into their
// cgroups, the sandbox's pid-1 gets a low OOM score, and runtime.json is written; only
// then does anything inside start.
import { writeFileSync } from "node:fs";
import type { SandboxCgroup } from "./cgroups.ts";
import { type Launched, launch, startFailed } from "./launcher.ts";
import { forceRemove, type Owner, type SandboxPaths } from "./layout.ts";
import { bootId, identityOf } from "./processes.ts";
import { type RuntimeInfo, writeJsonAtomic } from "./runtime.ts";

/** The sandbox's pid-1, and so the supervisor it starts, is the last the OOM killer takes
 *  (the supervisor raises its commands' scores). Lowering needs root (CAP_SYS_RESOURCE). */
const SUPERVISOR_OOM_SCORE_ADJ = -500;

export interface StartSandboxInput {
  sandboxId: string;
  paths: SandboxPaths;
  bwrapPath: string;
  /** From bwrapArgs. */
  args: string[];
  /** sandboxMarker(root, id): finds its processes again. */
  marker: string;
  seccomp: Buffer;
  owner?: Owner;
  /** An image sandbox's user namespace (launcher.ts USERNS_FD). */
  usernsFd?: number;
  cgroup?: SandboxCgroup;
  signal: AbortSignal;
}

export async function startSandbox(input: StartSandboxInput): Promise<{ runtime: RuntimeInfo; launched: Launched }> {
  const { paths, cgroup } = input;
  let runtime: RuntimeInfo | undefined;
  writeJsonAtomic(paths.launchingFile, { startedAt: new Date().toISOString() });
  const launched = await launch({
    bwrapPath: input.bwrapPath,
    args: input.args,
    marker: input.marker,
    logPath: paths.log,
    statusPath: paths.statusFile,
    seccomp: input.seccomp,
    owner: input.owner,
    usernsFd: input.usernsFd,
    signal: input.signal,
    timeoutMs: 10_000,
    beforeRelease: ({ bwrapPid, childPid }) => {
      cgroup?.addProcess(bwrapPid);
      cgroup?.addProcess(childPid);
      protectFromOomKiller(childPid);
      const bwrap = identityOf(bwrapPid);
      const init = identityOf(childPid);
      if (!bwrap || !init) throw startFailed("the sandbox exited during setup", paths.log);
      runtime = { version: 1, sandboxId: input.sandboxId, bootId: bootId(), bwrap, init, startedAt: new Date().toISOString() };
      writeJsonAtomic(paths.runtimeFile, runtime);
      forceRemove(paths.launchingFile);
    },
  });
  if (!runtime) throw startFailed("the sandbox was not recorded", paths.log);
  return { runtime, launched };
}

function protectFromOomKiller(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(SUPERVISOR_OOM_SCORE_ADJ));
  } catch {
    // not root: the commands' raised scores still put them first
  }
}
