// A sandbox as a kubernetes-sigs agent-sandbox `Sandbox` (agents.x-k8s.io/v1beta1), for
// clusters that run that controller (pure): the same pod template and volume claims as the
// StatefulSet, with spec.operatingMode Running or Suspended (the pod goes, the claims stay).
// The controller names the pod like the Sandbox and its claims `<template>-<sandbox>`.
import type { KubernetesObject, V1PersistentVolumeClaim, V1PodTemplateSpec } from "@kubernetes/client-node";
import type { SandboxSpec } from "../../driver.ts";
import { NAME_ANNOTATION, objectName, sandboxLabels } from "../names.ts";
import type { PodSettings } from "./pod-settings.ts";
import { claimTemplate } from "./sandbox-objects.ts";
import { type PodOptions, podTemplate } from "./sandbox-pod.ts";

export const AGENT_SANDBOX = { group: "agents.x-k8s.io", version: "v1beta1", plural: "sandboxes", kind: "Sandbox" } as const;

export type OperatingMode = "Running" | "Suspended";
export const operatingMode = (replicas: 0 | 1): OperatingMode => (replicas === 1 ? "Running" : "Suspended");

export interface AgentSandbox extends KubernetesObject {
  spec: {
    podTemplate: V1PodTemplateSpec;
    volumeClaimTemplates: V1PersistentVolumeClaim[];
    operatingMode: OperatingMode;
  };
}

export function agentSandbox(settings: PodSettings, spec: SandboxSpec, options: PodOptions & { replicas: 0 | 1 }): AgentSandbox {
  return {
    apiVersion: `${AGENT_SANDBOX.group}/${AGENT_SANDBOX.version}`,
    kind: AGENT_SANDBOX.kind,
    metadata: {
      name: objectName(spec.sandboxId),
      namespace: settings.namespace,
      labels: sandboxLabels(settings.installation, spec.sandboxId),
      annotations: { [NAME_ANNOTATION]: spec.name },
    },
    spec: {
      podTemplate: podTemplate(settings, spec, options),
      volumeClaimTemplates: options.workspaceClaim
        ? [claimTemplate(settings, spec, "home")]
        : [claimTemplate(settings, spec, "workspace"), claimTemplate(settings, spec, "home")],
      operatingMode: operatingMode(options.replicas),
    },
  };
}
