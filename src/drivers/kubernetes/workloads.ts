// What runs a sandbox's pod: a StatefulSet (the default), or an agent-sandbox `Sandbox`
// for clusters with that controller. The driver works the same on both; this says where
// each keeps its replicas, what it names its pod and claims, and how to watch it.
import { AppsV1Api, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import type { SandboxSpec } from "../driver.ts";
import { AGENT_SANDBOX, agentSandbox, operatingMode } from "./manifests/agent-sandbox.ts";
import type { PodSettings } from "./manifests/pod-settings.ts";
import { statefulSet } from "./manifests/sandbox-objects.ts";
import type { PodOptions } from "./manifests/sandbox-pod.ts";
import { objectName } from "./names.ts";

export type WorkloadKind = "statefulset" | "agent-sandbox";

export interface Workload {
  readonly kind: WorkloadKind;
  readonly apiVersion: string;
  readonly objectKind: string;
  /** The list path an informer watches, and its list call. */
  watch(kubeConfig: KubeConfig, namespace: string, labelSelector: string): { path: string; list: () => Promise<KubernetesListObject<KubernetesObject>> };
  manifest(settings: PodSettings, spec: SandboxSpec, options: PodOptions & { replicas: 0 | 1 }): KubernetesObject;
  replicasOf(object: KubernetesObject): number;
  /** The spec fields a merge patch sets to run (1) or stop (0) the sandbox. */
  scaleTo(replicas: 0 | 1): Record<string, unknown>;
  podName(sandboxId: string): string;
  /** The claims its volumeClaimTemplates make for the sandbox. */
  claimNames(object: KubernetesObject, sandboxId: string): string[];
  /** Whether its controller makes it own its claims (they would go with it). */
  readonly ownsClaims: boolean;
}

type WithTemplates = KubernetesObject & { spec?: { replicas?: number; operatingMode?: string; volumeClaimTemplates?: { metadata?: { name?: string } }[] } };
const templateNames = (object: KubernetesObject) => ((object as WithTemplates).spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name ?? "");

const STATEFUL_SET: Workload = {
  kind: "statefulset",
  apiVersion: "apps/v1",
  objectKind: "StatefulSet",
  watch(kubeConfig, namespace, labelSelector) {
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    return { path: `/apis/apps/v1/namespaces/${namespace}/statefulsets`, list: () => apps.listNamespacedStatefulSet({ namespace, labelSelector }) };
  },
  manifest: statefulSet,
  replicasOf: (object) => (object as WithTemplates).spec?.replicas ?? 0,
  scaleTo: (replicas) => ({ replicas }),
  podName: (sandboxId) => `${objectName(sandboxId)}-0`,
  claimNames: (object, sandboxId) => templateNames(object).map((name) => `${name}-${objectName(sandboxId)}-0`),
  ownsClaims: false,
};

const AGENT_SANDBOX_WORKLOAD: Workload = {
  kind: "agent-sandbox",
  apiVersion: `${AGENT_SANDBOX.group}/${AGENT_SANDBOX.version}`,
  objectKind: AGENT_SANDBOX.kind,
  watch(kubeConfig, namespace, labelSelector) {
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const { group, version, plural } = AGENT_SANDBOX;
    return {
      path: `/apis/${group}/${version}/namespaces/${namespace}/${plural}`,
      list: () => custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector }) as Promise<KubernetesListObject<KubernetesObject>>,
    };
  },
  manifest: agentSandbox,
  replicasOf: (object) => ((object as WithTemplates).spec?.operatingMode === "Suspended" ? 0 : 1),
  scaleTo: (replicas) => ({ operatingMode: operatingMode(replicas) }),
  podName: (sandboxId) => objectName(sandboxId),
  claimNames: (object, sandboxId) => templateNames(object).map((name) => `${name}-${objectName(sandboxId)}`),
  ownsClaims: true,
};

export function workload(kind: WorkloadKind): Workload {
  return kind === "agent-sandbox" ? AGENT_SANDBOX_WORKLOAD : STATEFUL_SET;
}
