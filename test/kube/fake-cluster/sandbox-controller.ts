// A small stand-in for the agent-sandbox controller (agents.x-k8s.io/v1beta1 Sandbox): one
// pod named like the Sandbox from spec.podTemplate while spec.operatingMode is Running
// (Suspended: the pod goes, the claims stay; v1alpha1's spec.replicas 1/0 is read too),
// claims `<template>-<sandbox>` owned by the Sandbox, and
// status.replicas / selector / a Ready condition. The real controller's headless Service,
// expiry (shutdownTime) and warm pools are not simulated.
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { ClusterContext } from "./context.ts";
import { asPod, controllerOf, isPodReady, isTerminating, KEYS, type KubeObject, ownerRefTo, shortHash, stableJson, timestamp, writeStatus } from "./objects.ts";
import { type ClaimTemplate, claimFromTemplate, podFromTemplate } from "./templates.ts";

interface SandboxSpec {
  podTemplate?: IPodTemplateSpec;
  volumeClaimTemplates?: ClaimTemplate[];
  replicas?: number;
  operatingMode?: "Running" | "Suspended";
}

export const SANDBOX_LABEL = "agents.x-k8s.io/sandbox-name-hash";

export class SandboxController {
  constructor(private readonly context: ClusterContext) {}

  static ownerOf(object: KubeObject): string | undefined {
    const owner = controllerOf(object);
    return owner?.kind === "Sandbox" ? owner.name : undefined;
  }

  reconcile(name: string): void {
    const { api, namespace } = this.context;
    const sandbox = api.get(KEYS.sandboxes, namespace, name);
    if (!sandbox || isTerminating(sandbox)) return;
    const spec = (sandbox["spec"] ?? {}) as SandboxSpec;
    const labels = { [SANDBOX_LABEL]: shortHash(name, 8) };
    const claims = new Map<string, string>();
    for (const template of spec.volumeClaimTemplates ?? []) {
      const claim = `${template.metadata?.name}-${name}`;
      claims.set(template.metadata?.name ?? "", claim);
      if (!api.get(KEYS.claims, namespace, claim)) {
        api.create(KEYS.claims, claimFromTemplate(template, { name: claim, namespace, labels: {}, owners: [ownerRefTo(sandbox, true)] }));
      }
    }
    const found = api.get(KEYS.pods, namespace, name);
    const pod = found && controllerOf(found)?.uid === sandbox.metadata.uid ? asPod(found) : undefined;
    const wanted = spec.operatingMode ? spec.operatingMode === "Running" : (spec.replicas ?? 1) >= 1;
    if (wanted && !found) {
      api.create(KEYS.pods, podFromTemplate(spec.podTemplate ?? {}, { name, namespace, labels, owner: ownerRefTo(sandbox, true), claims }));
      this.context.log(`sandbox ${name}: created pod`);
    } else if (!wanted && pod && !isTerminating(pod)) {
      api.remove(KEYS.pods, namespace, name);
      this.context.log(`sandbox ${name}: suspended, deleting pod`);
    }
    const live = pod && !isTerminating(pod) ? pod : undefined;
    const ready = live !== undefined && isPodReady(live);
    const previous = (sandbox["status"] ?? {}) as { conditions?: { type: string; status: string; lastTransitionTime?: string }[] };
    const before = previous.conditions?.find((condition) => condition.type === "Ready");
    const readyStatus = ready ? "True" : "False";
    const status = {
      replicas: live ? 1 : 0,
      selector: `${SANDBOX_LABEL}=${labels[SANDBOX_LABEL]}`,
      conditions: [
        {
          type: "Ready",
          status: readyStatus,
          reason: ready ? "DependenciesReady" : wanted ? "DependenciesNotReady" : "SandboxSuspended",
          message: ready ? "Pod is Ready" : wanted ? "Pod is not Ready" : "Sandbox is suspended",
          observedGeneration: sandbox.metadata.generation,
          lastTransitionTime: before?.status === readyStatus && before.lastTransitionTime ? before.lastTransitionTime : timestamp(),
        },
      ],
    };
    if (stableJson(status) !== stableJson(previous)) writeStatus(api, KEYS.sandboxes, namespace, name, status);
  }
}
