// The shapes the stand-in Kubernetes API server stores and reports. Kept apart so every piece
// (store, selectors, watch, HTTP) shares one vocabulary without importing each other.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  generateName?: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  generation: number;
  creationTimestamp: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  finalizers?: string[];
  managedFields?: unknown[];
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** What a caller writes: the server fills in uid, resourceVersion, generation and
 *  creationTimestamp, and apiVersion/kind when they are left out. */
export interface KubeObjectInput {
  apiVersion?: string;
  kind?: string;
  metadata: Partial<ObjectMeta>;
  [field: string]: unknown;
}

export interface ResourceType {
  /** "" is the core group */
  group: string;
  version: string;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** has a status subresource */
  status: boolean;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: string;
  /** 0 while the request has no answer yet (or never gets one: a hang rule) */
  status: number;
  watch: boolean;
}

export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

export interface ChangeEvent {
  type: ChangeType;
  key: string;
  object: KubeObject;
}

/** A change as the store keeps it in its history: the resourceVersion it made, and the object
 *  before it (watches with a label selector need both to tell "stopped matching" apart). */
export interface StoredChange extends ChangeEvent {
  resourceVersion: number;
  previous?: KubeObject;
}
