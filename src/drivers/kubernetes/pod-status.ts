// What a sandbox's pod says about its start (pure): how far it got (the driver's stages)
// and, when it is stuck, the cluster's own reason with a hint people can act on.
import type { V1ContainerStatus, V1Pod } from "@kubernetes/client-node";

export const KUBERNETES_STAGES = ["volumes", "pod scheduled", "init", "supervisor"] as const;
export type KubernetesStage = (typeof KUBERNETES_STAGES)[number];

export interface PodProblem {
  /** The cluster's reason: ImagePullBackOff, Unschedulable, OOMKilled, FailedMount… */
  reason: string;
  message: string;
  /** Waiting longer will not help (the spec must change), so ensure fails now. */
  fatal: boolean;
  hint: string;
}

const HINTS: Record<string, string> = {
  ImagePullBackOff: "the cluster cannot pull the runtime image: check OUTPOST_KUBE_RUNTIME_IMAGE and the registry's pull secret",
  ErrImagePull: "the cluster cannot pull the runtime image: check OUTPOST_KUBE_RUNTIME_IMAGE and the registry's pull secret",
  InvalidImageName: "the runtime image's name is invalid: check OUTPOST_KUBE_RUNTIME_IMAGE",
  Unschedulable: "no node can take the pod: lower OUTPOST_KUBE_CPU_REQUEST/OUTPOST_KUBE_MEMORY_REQUEST or add nodes",
  OOMKilled: "the sandbox ran out of memory: raise its memory limit",
  FailedMount: "a volume could not be mounted: check OUTPOST_KUBE_STORAGE_CLASS and the cluster's storage",
  FailedAttachVolume: "a volume could not be attached: check the cluster's storage",
  CrashLoopBackOff: "the container keeps exiting: see `kubectl logs` of the pod",
  CreateContainerConfigError: "the pod's configuration is refused: see `kubectl describe pod`",
  CreateContainerError: "the container could not be created: see `kubectl describe pod`",
  Error: "the container exited with an error: see `kubectl logs` of the pod",
};

const FATAL_WAITING = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError"]);

export const hintFor = (reason: string) => HINTS[reason] ?? "see `kubectl describe pod` for the cluster's events";

function problem(reason: string, message: string, fatal: boolean): PodProblem {
  return { reason, message: message.slice(0, 500), fatal, hint: hintFor(reason) };
}

const condition = (pod: V1Pod, type: string) => pod.status?.conditions?.find((c) => c.type === type);

/** The stages the pod has passed (in order). */
export function stagesDone(pod: V1Pod | undefined): Set<KubernetesStage> {
  const done = new Set<KubernetesStage>();
  if (!pod) return done;
  if (pod.spec?.nodeName || condition(pod, "PodScheduled")?.status === "True") done.add("pod scheduled");
  if (condition(pod, "Initialized")?.status === "True") done.add("init");
  return done;
}

function containerProblem(status: V1ContainerStatus, init: boolean): PodProblem | null {
  const waiting = status.state?.waiting;
  const last = status.lastState?.terminated ?? status.state?.terminated;
  const restarts = status.restartCount ?? 0;
  const what = init ? `the ${status.name} init container` : `the ${status.name} container`;
  if (waiting?.reason && FATAL_WAITING.has(waiting.reason)) return problem(waiting.reason, `${what}: ${waiting.message ?? waiting.reason}`, true);
  if (last?.reason === "OOMKilled") return problem("OOMKilled", `${what} was killed for using too much memory`, restarts >= 2);
  if (waiting?.reason === "CrashLoopBackOff" || (last && last.exitCode !== 0 && restarts >= 1)) {
    const exit = last ? ` (exit code ${last.exitCode}${last.reason ? `, ${last.reason}` : ""})` : "";
    return problem("CrashLoopBackOff", `${what} keeps exiting${exit}`, restarts >= 2);
  }
  return null;
}

/** Why the pod is not running yet, when the pod itself says (events are read separately). */
export function podProblem(pod: V1Pod | undefined): PodProblem | null {
  if (!pod) return null;
  const scheduled = condition(pod, "PodScheduled");
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable")
    return problem("Unschedulable", scheduled.message ?? "no node fits the pod", false);
  for (const status of pod.status?.initContainerStatuses ?? []) {
    const found = containerProblem(status, true);
    if (found) return found;
  }
  for (const status of pod.status?.containerStatuses ?? []) {
    const found = containerProblem(status, false);
    if (found) return found;
  }
  return null;
}

/** Whether the supervisor's container runs now (the link says whether it answers). */
export function supervisorRunning(pod: V1Pod | undefined): boolean {
  if (!pod || pod.metadata?.deletionTimestamp) return false;
  return Boolean(pod.status?.containerStatuses?.find((c) => c.name === "supervisor")?.state?.running);
}

/** How the supervisor's container last ended, when it did. */
export function lastExit(pod: V1Pod | undefined): { reason: string; oomKilled: boolean } | undefined {
  const status = pod?.status?.containerStatuses?.find((c) => c.name === "supervisor");
  const ended = status?.state?.terminated ?? status?.lastState?.terminated;
  if (!ended) return undefined;
  const oomKilled = ended.reason === "OOMKilled";
  return {
    reason: oomKilled ? "out of memory (OOMKilled)" : `exited with code ${ended.exitCode}${ended.reason ? ` (${ended.reason})` : ""}`,
    oomKilled,
  };
}
