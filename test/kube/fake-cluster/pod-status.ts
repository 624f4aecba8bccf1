// A pod's status as the kubelet reports it, from what it knows about the pod's containers:
// phase, the four standard conditions (lastTransitionTime kept while a condition holds),
// addresses (host network: 127.0.0.1) and init/regular container statuses.
import type { IPodCondition } from "kubernetes-models/v1/PodCondition";
import type { IPodStatus } from "kubernetes-models/v1/PodStatus";
import type { ContainerRecord } from "./container-record.ts";
import { type PodObject, timestamp } from "./objects.ts";

export interface PodFacts {
  pod: PodObject;
  inits: ContainerRecord[];
  mains: ContainerRecord[];
  initialized: boolean;
  initFailed: boolean;
  startTime: string;
}

export function podPhase(facts: PodFacts): NonNullable<IPodStatus["phase"]> {
  if (facts.initFailed) return "Failed";
  if (facts.mains.length > 0 && facts.mains.every((record) => record.done)) {
    return facts.mains.every((record) => "terminated" in record.state && record.state.terminated.exitCode === 0) ? "Succeeded" : "Failed";
  }
  if (facts.initialized && facts.mains.every((record) => record.everStarted)) return "Running";
  return "Pending";
}

export function podStatus(facts: PodFacts): IPodStatus {
  const previous = facts.pod.status?.conditions ?? [];
  const condition = (type: string, ok: boolean, reason?: string, message?: string): IPodCondition => {
    const status = ok ? "True" : "False";
    const before = previous.find((item) => item.type === type);
    return {
      type,
      status,
      lastTransitionTime: before?.status === status && before.lastTransitionTime ? before.lastTransitionTime : timestamp(),
      ...(ok ? {} : { reason, message }),
    } as IPodCondition;
  };
  const unready = facts.mains.filter((record) => !record.ready).map((record) => record.spec.name);
  const incomplete = facts.inits.filter((record) => !record.ready).map((record) => record.spec.name);
  const scheduled = previous.find((item) => item.type === "PodScheduled");
  return {
    phase: podPhase(facts),
    conditions: [
      condition("Initialized", facts.initialized, "ContainersNotInitialized", `containers with incomplete status: [${incomplete.join(" ")}]`),
      condition("Ready", unready.length === 0, "ContainersNotReady", `containers with unready status: [${unready.join(" ")}]`),
      condition("ContainersReady", unready.length === 0, "ContainersNotReady", `containers with unready status: [${unready.join(" ")}]`),
      scheduled?.status === "True" ? scheduled : condition("PodScheduled", true),
    ],
    hostIP: "127.0.0.1",
    hostIPs: [{ ip: "127.0.0.1" }],
    podIP: "127.0.0.1",
    podIPs: [{ ip: "127.0.0.1" }],
    startTime: facts.startTime,
    qosClass: "BestEffort",
    ...(facts.inits.length ? { initContainerStatuses: facts.inits.map((record) => record.toStatus()) } : {}),
    containerStatuses: facts.mains.map((record) => record.toStatus()),
  };
}
