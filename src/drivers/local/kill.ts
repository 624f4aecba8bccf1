// Ending a sandbox's processes, politely then for good. Both are idempotent and work
// from what is on disk and in /proc, so they finish what a killed control plane started.
import { DriverError } from "../errors.ts";
import { type CgroupSupport, SandboxCgroup } from "./cgroups.ts";
import { isInRange, type UidRange } from "./host-users.ts";
import { markerArgs } from "./launcher.ts";
import { sandboxMarker } from "./layout.ts";
import { PollTimeout, pollUntil } from "./poll.ts";
import { bootId, descendantsOf, isRunning, pidsWithArgs, runningPidsOfUids, signalPid } from "./processes.ts";
import type { RuntimeInfo } from "./runtime.ts";

export interface KillContext {
  root: string;
  cgroups: CgroupSupport;
  /** The sandbox's host uid when it has its own (root only), for the last sweep. */
  /** The sandbox's own host uids (its user's, and its root block for an image sandbox). */
  hostUids?: number[];
  uidRange: UidRange;
  killTimeoutMs: number;
  log: (message: string) => void;
}

/**
 * SIGTERM to every process under the sandbox's pid-1, then waits up to graceMs for it to
 * end. The sandbox's pid-1 (bwrap's reaper) ignores signals it has no handler for and only
 * exits once every process inside is gone, so the whole tree gets the signal (the
 * supervisor is namespace pid 2; daemons it left behind were re-parented to pid-1). Right
 * after a start pid-1 may not have forked the supervisor yet: processes that appear during
 * the grace get their SIGTERM too (once each), or the stop would wait it out. False when
 * the grace ran out.
 */
export async function terminate(runtime: RuntimeInfo, { signal, graceMs }: { signal: AbortSignal; graceMs: number }): Promise<boolean> {
  const terminated = new Set<number>();
  const sendTerm = () => {
    for (const pid of descendantsOf(runtime.init.pid)) {
      if (terminated.has(pid)) continue;
      terminated.add(pid);
      signalPid(pid, "SIGTERM");
    }
  };
  sendTerm();
  const ended = () => {
    if (!isRunning(runtime.init)) return true;
    sendTerm();
    return undefined;
  };
  return pollUntil(ended, { signal, timeoutMs: graceMs }).catch((error) => {
    if (!(error instanceof PollTimeout)) throw error;
    return false;
  });
}

/**
 * SIGKILLs every process of the sandbox through every handle there is on it — the recorded
 * pids, bwrap processes found by their marker (a launch that was never recorded), the
 * cgroups, and the sandbox's own host uid — and waits until none is left. The uid sweep
 * relies on the promise of one uid per sandbox on this machine (uid-claims.ts).
 */
export async function killEverything(context: KillContext, sandboxId: string, runtime: RuntimeInfo | null, signal: AbortSignal): Promise<void> {
  const uidSweeps = new Set((context.hostUids ?? []).filter((uid) => isInRange(uid, context.uidRange)));
  const recorded = runtime && runtime.bootId === bootId() ? [runtime.init, runtime.bwrap] : [];
  const strays = () => pidsWithArgs(markerArgs(sandboxMarker(context.root, sandboxId)));
  const leftovers = () => [
    ...recorded.filter((identity) => isRunning(identity)).map((identity) => identity.pid),
    ...strays(),
    ...(uidSweeps.size ? runningPidsOfUids(uidSweeps) : []),
  ];
  const cgroup = context.cgroups.usable ? new SandboxCgroup(context.cgroups, sandboxId) : undefined;
  if (leftovers().length === 0 && (!cgroup || cgroup.pids().length === 0)) return;

  context.log(`killing what is left of sandbox ${sandboxId}`);
  await cgroup?.killAll({ signal, timeoutMs: context.killTimeoutMs });
  await pollUntil(
    () => {
      const left = [...new Set(leftovers())];
      // Killing a namespace's pid-1 makes the kernel kill every process inside it.
      for (const pid of left) signalPid(pid, "SIGKILL");
      return left.length === 0 ? true : undefined;
    },
    { signal, timeoutMs: context.killTimeoutMs },
  ).catch((error) => {
    if (!(error instanceof PollTimeout)) throw error;
    throw new DriverError("SANDBOX_STOP_FAILED", `processes ${leftovers().join(", ")} of sandbox ${sandboxId} survived SIGKILL`, { details: { sandboxId } });
  });
}
