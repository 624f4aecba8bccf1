// Turning a workload's templates into the Pods and PersistentVolumeClaims it owns: the part
// StatefulSet and Sandbox controllers share. A volume claim template named like a pod volume
// replaces that volume (StatefulSet semantics), and its claim is what the pod mounts.
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import { clone, type KubeObject, type OwnerRef } from "./objects.ts";

export interface ClaimTemplate {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: IPersistentVolumeClaim["spec"];
}

export function podFromTemplate(
  template: IPodTemplateSpec,
  pod: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    owner: OwnerRef;
    /** pod volume name → claim name */
    claims: Map<string, string>;
    hostname?: string;
    subdomain?: string;
  },
): KubeObject {
  const spec = clone(template.spec ?? { containers: [] });
  const volumes = (spec.volumes ?? []).filter((volume) => !pod.claims.has(volume.name));
  for (const [volume, claimName] of pod.claims) volumes.push({ name: volume, persistentVolumeClaim: { claimName } });
  spec.volumes = volumes;
  if (pod.hostname) spec.hostname = pod.hostname;
  if (pod.subdomain) spec.subdomain = pod.subdomain;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: pod.name,
      namespace: pod.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...pod.labels },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      ownerReferences: [pod.owner],
    } as KubeObject["metadata"],
    spec,
  };
}

export function claimFromTemplate(
  template: ClaimTemplate,
  claim: { name: string; namespace: string; labels: Record<string, string>; owners: OwnerRef[] },
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: claim.name,
      namespace: claim.namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...claim.labels },
      annotations: { ...(template.metadata?.annotations ?? {}) },
      ...(claim.owners.length ? { ownerReferences: claim.owners } : {}),
    } as KubeObject["metadata"],
    spec: clone(template.spec ?? {}),
  };
}
