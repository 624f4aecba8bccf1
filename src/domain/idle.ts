// Idle stop as pure rules: when a sandbox has sat idle long enough to be stopped, and how a
// sandbox stopped for idleness shows in the API. What counts as busy is gathered elsewhere
// (services/sandbox-activity.ts, services/idle-reaper.ts); here only the facts are weighed.
// Times are milliseconds since the epoch; timeouts are seconds, as users set them.
import type { Desired, Phase } from "./sandbox-lifecycle.ts";

/** A project's default: half an hour. */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 1800;
/** A week: longer is "never" (0) in all but name. */
export const MAX_IDLE_TIMEOUT_SECONDS = 604_800;

/** What the control plane knows about a sandbox's use when it decides. */
export interface ActivityFacts {
  /** Something keeps it busy right now: a command, an attached terminal, a preview request, an agent run. */
  busy: boolean;
  /** When the latest activity ended, from any source (memory, the store, the sandbox); null: none known. */
  lastActivityAt: number | null;
  /** When it last became running (its `ready` stage ended); null when not known. */
  runningSince: number | null;
  /** When this control plane began watching sandboxes: a sandbox with no recorded activity
   *  gets a full timeout from here, so a restart never stops one that was in use just before. */
  watchingSince: number;
}

/**
 * When the sandbox may be stopped for idleness, or null: never (busy now, or timeout 0).
 * Idle time counts from the later of its start and its last activity: a sandbox just woken
 * is not stopped again for what it did (not) do before its stop.
 */
export function idleStopDue(facts: ActivityFacts, timeoutSeconds: number): number | null {
  if (timeoutSeconds <= 0 || facts.busy) return null;
  const since = Math.max(facts.runningSince ?? facts.watchingSince, facts.lastActivityAt ?? facts.watchingSince);
  return since + timeoutSeconds * 1000;
}

export function isIdle(facts: ActivityFacts, timeoutSeconds: number, now: number): boolean {
  const due = idleStopDue(facts, timeoutSeconds);
  return due !== null && now >= due;
}

/** 'stopped': stopped because it sat idle (requests wake it); 'waking': a request asked it back. */
export type IdleState = "stopped" | "waking" | null;

/** Why a sandbox is (to be) stopped: by a user's verb or for idleness; null while it should run. */
export function stoppedReason(sandbox: { desired: Desired; idleState: IdleState }): "user" | "idle" | null {
  if (sandbox.desired !== "stopped") return null;
  return sandbox.idleState === "stopped" ? "idle" : "user";
}

/** True while a sandbox stopped for idleness is on its way back because a request asked for it
 *  (waiting for room counts: its start failed in a way that is retried by itself). */
export function isWaking(sandbox: { phase: Phase; desired: Desired; idleState: IdleState; error?: { nextAttemptAt?: string } | null }): boolean {
  if (sandbox.idleState !== "waking" || sandbox.desired !== "running") return false;
  if (sandbox.phase === "failed") return sandbox.error?.nextAttemptAt !== undefined;
  return ["pending", "provisioning", "stopping", "stopped"].includes(sandbox.phase);
}
