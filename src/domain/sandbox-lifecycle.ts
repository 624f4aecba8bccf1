// The sandbox lifecycle as pure rules: which phases exist, which desired state each user
// verb writes, and which verbs a phase accepts. The reconciler moves phases; users only
// ever change the desired state. No I/O here.
import { OutpostError } from "./errors.ts";
import { randomLowerAlnum } from "./ids.ts";

export const PHASES = ["pending", "provisioning", "running", "stopping", "stopped", "deleting", "deleted", "failed"] as const;
export type Phase = (typeof PHASES)[number];

export const DESIRED = ["running", "stopped", "deleted"] as const;
export type Desired = (typeof DESIRED)[number];

/** The control plane's own last stage, after the driver's (each driver names its own:
 *  local: workspace, isolation, supervisor; see docs/api.md). */
export const READY_STAGE = "ready";
/** A stage name as the API shows it: a driver's, or READY_STAGE. */
export const STAGE_NAME_PATTERN = /^[a-z][a-z0-9 -]{0,39}$/;
export type StageName = string;
export type StageState = "pending" | "running" | "done" | "failed";

export interface Stage {
  name: StageName;
  state: StageState;
  startedAt?: string;
  endedAt?: string;
  message?: string;
}

export type Verb = "start" | "stop" | "restart" | "delete";

/** Sandbox names: `<project>-<6 random [a-z0-9]>`, a DNS-1123 label (project names are ≤ 40). */
export function sandboxName(projectName: string, random: () => string = () => randomLowerAlnum(6)): string {
  return `${projectName}-${random()}`;
}

/** Every stage pending: the driver's, then ready. */
export function freshStages(driverStages: readonly string[]): Stage[] {
  return [...driverStages, READY_STAGE].map((name) => ({ name, state: "pending" }));
}

/** Applies one stage report to the list (pure: returns a new list). */
export function withStage(stages: Stage[], name: StageName, state: StageState, now: string, message?: string): Stage[] {
  return stages.map((stage) => {
    if (stage.name !== name) return stage;
    const next: Stage = { ...stage, state, ...(message !== undefined ? { message } : {}) };
    if (state === "running") {
      // A progress line of a stage under way keeps its start; a stage run again starts anew.
      if (stage.state !== "running" || !stage.startedAt) next.startedAt = now;
      delete next.endedAt;
    }
    if (state === "done" || state === "failed") {
      next.startedAt ??= now;
      next.endedAt = now;
    }
    return next;
  });
}

/** The desired state a verb asks for; refuses verbs that make no sense in this phase. */
export function desiredFor(verb: Verb, phase: Phase): Desired {
  if (phase === "deleting" || phase === "deleted") {
    throw new OutpostError("SANDBOX_WRONG_PHASE", `The sandbox is ${phase}; it cannot ${verb}.`, { details: { phase, verb } });
  }
  switch (verb) {
    case "start":
    case "restart":
      return "running";
    case "stop":
      return "stopped";
    case "delete":
      return "deleted";
  }
}

/** The phase the reconciler aims for, given what is desired. */
export function targetPhase(desired: Desired): Phase {
  return desired === "running" ? "running" : desired === "stopped" ? "stopped" : "deleted";
}

/** True when nothing is left to do for this sandbox. */
export function settled(desired: Desired, phase: Phase): boolean {
  return phase === targetPhase(desired) || (phase === "failed" && desired === "running");
}
