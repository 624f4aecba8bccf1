// Small vocabulary the simulated controllers and kubelet share: typed views of the stored
// objects (the store keeps plain JSON), owner references, timestamps as the API writes them,
// and the stable hash a StatefulSet uses to tell one pod template revision from another.
import { createHash } from "node:crypto";
import type { IPersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { FakeKubeApi, KubeObject } from "../fake-api-server.ts";

export type { KubeObject };
export type PodObject = KubeObject & IPod & { metadata: KubeObject["metadata"] };
export type ClaimObject = KubeObject & IPersistentVolumeClaim & { metadata: KubeObject["metadata"] };

export const KEYS = {
  pods: "pods",
  claims: "persistentvolumeclaims",
  secrets: "secrets",
  configMaps: "configmaps",
  events: "events",
  statefulSets: "statefulsets.apps",
  sandboxes: "sandboxes.agents.x-k8s.io",
} as const;

export function asPod(object: KubeObject): PodObject {
  return object as PodObject;
}

export function asClaim(object: KubeObject): ClaimObject {
  return object as ClaimObject;
}

/** RFC 3339 with second precision, as the API server writes metav1.Time. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export function ownerRefTo(owner: KubeObject, controller: boolean): OwnerRef {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller, blockOwnerDeletion: true };
}

export function controllerOf(object: KubeObject): OwnerRef | undefined {
  return (object.metadata.ownerReferences as OwnerRef[] | undefined)?.find((ref) => ref.controller);
}

export function isOwnedBy(object: KubeObject, ownerUid: string): boolean {
  return (object.metadata.ownerReferences ?? []).some((ref) => ref.uid === ownerUid);
}

export function isTerminating(object: KubeObject): boolean {
  return Boolean(object.metadata.deletionTimestamp);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** JSON with object keys sorted, so the same content always gives the same text. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item) =>
    item && typeof item === "object" && !Array.isArray(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : 1))) : item,
  );
}

export function shortHash(value: unknown, length = 10): string {
  return createHash("sha256").update(stableJson(value)).digest("hex").slice(0, length);
}

/** Pod has condition Ready True (what "ready" means for every controller here). */
export function isPodReady(pod: PodObject): boolean {
  return pod.status?.phase === "Running" && (pod.status.conditions ?? []).some((condition) => condition.type === "Ready" && condition.status === "True");
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Writes a changed copy of `object` (never its status: that is the status writer's). */
export function update<T extends KubeObject>(api: FakeKubeApi, key: string, object: T, change: (copy: T) => void): T {
  const copy = clone(object) as T & { status?: unknown };
  delete copy.status;
  change(copy);
  return api.replace(key, copy) as T;
}

export function withoutFinalizer<T extends KubeObject>(copy: T, finalizer: string): void {
  copy.metadata.finalizers = (copy.metadata.finalizers ?? []).filter((item) => item !== finalizer);
}

export function withFinalizer<T extends KubeObject>(copy: T, finalizer: string): void {
  const finalizers = copy.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) copy.metadata.finalizers = [...finalizers, finalizer];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** The JSON merge patch that turns `current` into `wanted` (null for what must go). */
export function mergePatchTo(current: unknown, wanted: unknown): unknown {
  if (!isPlainObject(current) || !isPlainObject(wanted)) return wanted;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(current)) if (!(key in wanted)) patch[key] = null;
  for (const [key, value] of Object.entries(wanted)) patch[key] = mergePatchTo(current[key], value);
  return patch;
}

/** Sets an object's whole status (the in-process patchStatus merges). */
export function writeStatus(api: FakeKubeApi, key: string, namespace: string, name: string, status: unknown): KubeObject {
  return api.patchStatus(key, namespace, name, mergePatchTo(api.get(key, namespace, name)?.status ?? {}, status));
}
