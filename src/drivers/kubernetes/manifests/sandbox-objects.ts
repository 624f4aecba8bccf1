// The objects of one sandbox (pure): its StatefulSet, and what the set owns — the Secret
// with the supervisor's link token (and nothing else: project variables cross the link
// with each command), the ConfigMap with the CA files, and the NetworkPolicy that lets the
// pod reach the control plane's link and nothing else. The owned objects carry an
// ownerReference to the set, so deleting the set deletes them.
import type {
  V1ConfigMap,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1OwnerReference,
  V1PersistentVolumeClaim,
  V1Secret,
  V1StatefulSet,
} from "@kubernetes/client-node";
import type { SandboxSpec } from "../../driver.ts";
import { NAME_ANNOTATION, objectName, sandboxLabels, VOLUME_LABEL } from "../names.ts";
import type { PodSettings } from "./pod-settings.ts";
import { type PodOptions, podTemplate } from "./sandbox-pod.ts";

export function claimTemplate(settings: PodSettings, spec: SandboxSpec, volume: "workspace" | "home"): V1PersistentVolumeClaim {
  return {
    metadata: { name: volume, labels: { ...sandboxLabels(settings.installation, spec.sandboxId), [VOLUME_LABEL]: volume } },
    spec: {
      accessModes: ["ReadWriteOnce"],
      ...(settings.storageClass ? { storageClassName: settings.storageClass } : {}),
      resources: { requests: { storage: volume === "workspace" ? settings.workspaceSize : settings.homeSize } },
    },
  };
}

export function statefulSet(settings: PodSettings, spec: SandboxSpec, options: PodOptions & { replicas: 0 | 1 }): V1StatefulSet {
  const name = objectName(spec.sandboxId);
  const labels = sandboxLabels(settings.installation, spec.sandboxId);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: settings.namespace, labels, annotations: { [NAME_ANNOTATION]: spec.name } },
    spec: {
      replicas: options.replicas,
      serviceName: name,
      podManagementPolicy: "Parallel",
      selector: { matchLabels: labels },
      // Volumes outlive a stop (scale to 0) and a delete: removing them is the driver's
      // explicit act (remove without keepWorkspace), never a side effect.
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      template: podTemplate(settings, spec, options),
      volumeClaimTemplates: options.workspaceClaim
        ? [claimTemplate(settings, spec, "home")]
        : [claimTemplate(settings, spec, "workspace"), claimTemplate(settings, spec, "home")],
    },
  };
}

export function ownedBy(owner: { apiVersion: string; kind: string; name: string; uid: string }): V1OwnerReference[] {
  return [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: false }];
}

export function tokenSecret(settings: PodSettings, spec: SandboxSpec, token: string, owners: V1OwnerReference[]): V1Secret {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: objectName(spec.sandboxId),
      namespace: settings.namespace,
      labels: sandboxLabels(settings.installation, spec.sandboxId),
      ownerReferences: owners,
    },
    type: "Opaque",
    data: { token: Buffer.from(token).toString("base64") },
  };
}

export function caConfigMap(settings: PodSettings, spec: SandboxSpec, ca: { caPem: string; caBundlePem: string }, owners: V1OwnerReference[]): V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: objectName(spec.sandboxId),
      namespace: settings.namespace,
      labels: sandboxLabels(settings.installation, spec.sandboxId),
      ownerReferences: owners,
    },
    // link-ca.pem: what the supervisor checks the link's certificate against (the
    // installation CA signs it); ca.pem / ca-bundle.pem: what the sandbox's tools trust.
    data: { "link-ca.pem": ca.caPem, "ca.pem": ca.caPem, "ca-bundle.pem": ca.caBundlePem },
  };
}

export function networkPolicy(settings: PodSettings, spec: SandboxSpec, owners: V1OwnerReference[]): V1NetworkPolicy {
  const { podLabels, podPort, cidr } = settings.linkPeers;
  const peers: V1NetworkPolicyPeer[] = [];
  if (podLabels) peers.push({ podSelector: { matchLabels: podLabels } });
  if (cidr) peers.push({ ipBlock: { cidr } });
  const ports = [...new Set([podPort ?? settings.link.port, settings.link.port])].map((port) => ({ protocol: "TCP", port }));
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: {
      name: objectName(spec.sandboxId),
      namespace: settings.namespace,
      labels: sandboxLabels(settings.installation, spec.sandboxId),
      ownerReferences: owners,
    },
    spec: {
      podSelector: { matchLabels: sandboxLabels(settings.installation, spec.sandboxId) },
      policyTypes: ["Ingress", "Egress"],
      // No ingress at all: previews and everything else come in over the link.
      ingress: [],
      // Only the link: the egress proxy, the model gateway and the database are reached
      // through it too. No DNS (port 53 is not listed).
      egress: [{ to: peers, ports }],
    },
  };
}
