// The objects the stand-in API server holds, and everything that happens to them as on a real
// server: one global resourceVersion, generation bumped by spec changes, finalizers holding
// a deletion back, garbage collection of dependents, namespaces that empty before they go,
// and a bounded history of changes that watches replay from.
//
// Changes are handed to listeners in the order they were made, even when a listener makes
// a change of its own while being told (a controller answering an event): such changes are
// queued, never delivered in the middle of another delivery.
import { randomUUID } from "node:crypto";
import { alreadyExists, badRequest, conflict, forbidden, invalid, KubeApiError, notFound } from "./errors.ts";
import { canonicalJson } from "./patch.ts";
import { apiVersionOf, findByKey, RESOURCES, resourceKey } from "./resources.ts";
import type { Matcher } from "./selectors.ts";
import type { ChangeType, KubeObject, KubeObjectInput, ResourceType, StoredChange } from "./types.ts";

/** What a write does with the status in the object it is given:
 *  "ignore" — keeps the stored status (a client writing the main resource);
 *  "only"   — takes the status and nothing else (the status subresource);
 *  "ifGiven" — takes it when the object has one, else keeps it (in-process controllers). */
export type StatusMode = "ignore" | "only" | "ifGiven";

export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

export interface DeleteOptions {
  /** Foreground is treated as Background: dependents go after the owner, not before. */
  propagationPolicy?: PropagationPolicy;
  preconditions?: { uid?: string; resourceVersion?: string };
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_SUFFIX_CHARACTERS = "bcdfghjklmnpqrstvwxz2456789";

const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const clone = <T>(value: T): T => structuredClone(value);

function randomSuffix(): string {
  let suffix = "";
  for (let i = 0; i < 5; i++) suffix += NAME_SUFFIX_CHARACTERS[Math.floor(Math.random() * NAME_SUFFIX_CHARACTERS.length)];
  return suffix;
}

/** Everything but metadata and status: what generation counts changes of. */
function specOf(object: KubeObject): string {
  const { metadata: _metadata, status: _status, ...rest } = object;
  return canonicalJson(rest);
}

function withoutVersion(object: KubeObject): string {
  return canonicalJson({ ...object, metadata: { ...object.metadata, resourceVersion: undefined } });
}

export class ObjectStore {
  private revision = 0;
  private readonly tables = new Map<string, Map<string, KubeObject>>();
  private history: StoredChange[] = [];
  /** Changes up to and including this resourceVersion are no longer kept. */
  private forgottenThrough = 0;
  private readonly listeners = new Set<(change: StoredChange) => void>();
  private readonly undelivered: StoredChange[] = [];
  private delivering = false;

  constructor(private readonly historyLimit: number) {
    for (const type of RESOURCES) this.tables.set(resourceKey(type), new Map());
    for (const name of ["default", "kube-system", "kube-public"]) {
      this.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } }, "ifGiven");
    }
  }

  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest resourceVersion a watch can still resume from. */
  get oldestResumable(): number {
    return this.forgottenThrough;
  }

  typeOf(key: string): ResourceType {
    const type = findByKey(key);
    if (!type) throw new KubeApiError(404, "NotFound", `the server could not find the requested resource (${key})`);
    return type;
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const type = this.typeOf(key);
    const stored = this.table(key).get(this.id(type, namespace, name));
    return stored && clone(stored);
  }

  list(key: string, namespace: string | undefined, matches: Matcher = () => true): KubeObject[] {
    this.typeOf(key);
    return [...this.table(key).entries()]
      .filter(([, object]) => (!namespace || object.metadata.namespace === namespace) && matches(object))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => clone(object));
  }

  create(key: string, input: KubeObjectInput, statusMode: Exclude<StatusMode, "only">): KubeObject {
    const type = this.typeOf(key);
    this.checkKind(type, input);
    const metadata = clone(input.metadata ?? {}) as Partial<KubeObject["metadata"]>;
    const name = metadata.name || (metadata.generateName ? metadata.generateName + randomSuffix() : "");
    if (!name) throw invalid(type, "", "metadata.name", "Required value: name or generateName is required");
    if (name.length > 253 || !NAME.test(name)) {
      throw invalid(
        type,
        name,
        "metadata.name",
        `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`,
      );
    }
    if (type.namespaced) this.checkNamespaceAcceptsContent(type, name, metadata.namespace);
    else delete metadata.namespace;
    if (this.table(key).has(this.id(type, metadata.namespace, name))) throw alreadyExists(type, name);

    const object: KubeObject = {
      ...clone(input),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: { ...metadata, name, uid: randomUUID(), resourceVersion: "", generation: 1, creationTimestamp: now() },
    };
    delete object.metadata.deletionTimestamp;
    delete object.metadata.deletionGracePeriodSeconds;
    if (type.status && statusMode === "ignore") delete object.status;
    if (key === "namespaces") object.status = { phase: "Active" };
    this.commit("ADDED", key, object);
    return clone(object);
  }

  update(key: string, input: KubeObjectInput, statusMode: StatusMode): KubeObject {
    const type = this.typeOf(key);
    this.checkKind(type, input);
    const name = input.metadata?.name ?? "";
    const stored = this.table(key).get(this.id(type, input.metadata?.namespace, name));
    if (!stored) throw notFound(type, name);
    const givenVersion = input.metadata.resourceVersion;
    if (givenVersion && givenVersion !== stored.metadata.resourceVersion) throw conflict(type, name);

    const next: KubeObject =
      statusMode === "only"
        ? { ...clone(stored), status: clone(input.status) }
        : ({ ...clone(input), apiVersion: stored.apiVersion, kind: stored.kind, metadata: { ...clone(input.metadata) } } as KubeObject);
    if (next.status === undefined) delete next.status;
    const keepStatus = (statusMode === "ignore" && type.status) || (statusMode === "ifGiven" && !Object.hasOwn(input, "status"));
    if (keepStatus) {
      if (stored.status === undefined) delete next.status;
      else next.status = clone(stored.status);
    }
    // What only the server decides about an object is never taken from a client.
    for (const field of ["name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds"] as const) {
      if (stored.metadata[field] === undefined) delete next.metadata[field];
      else (next.metadata as unknown as Record<string, unknown>)[field] = stored.metadata[field];
    }
    next.metadata.resourceVersion = stored.metadata.resourceVersion;
    if (withoutVersion(next) === withoutVersion(stored)) return clone(stored);
    if (specOf(next) !== specOf(stored)) next.metadata.generation = stored.metadata.generation + 1;

    if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length && key !== "namespaces") return this.removeNow(key, type, next);
    this.commit("MODIFIED", key, next, stored);
    if (key === "namespaces") this.finishNamespaceIfEmpty(name);
    return clone(next);
  }

  delete(key: string, namespace: string | undefined, name: string, options: DeleteOptions = {}): KubeObject {
    const type = this.typeOf(key);
    const stored = this.table(key).get(this.id(type, namespace, name));
    if (!stored) throw notFound(type, name);
    const { uid, resourceVersion } = options.preconditions ?? {};
    if ((uid && uid !== stored.metadata.uid) || (resourceVersion && resourceVersion !== stored.metadata.resourceVersion)) {
      throw new KubeApiError(409, "Conflict", `Precondition failed for ${key} "${name}": the uid or resourceVersion given does not match the object's`);
    }
    if (options.propagationPolicy === "Orphan") this.orphanDependents(stored.metadata.uid);
    return this.deleteObject(key, type, stored);
  }

  /** Changes after a resourceVersion, or undefined when some of them are no longer kept. */
  changesSince(resourceVersion: number): StoredChange[] | undefined {
    if (resourceVersion < this.forgottenThrough) return undefined;
    return this.history.filter((change) => change.resourceVersion > resourceVersion);
  }

  compact(): void {
    this.history = [];
    this.forgottenThrough = this.revision;
  }

  subscribe(listener: (change: StoredChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private table(key: string): Map<string, KubeObject> {
    return this.tables.get(key)!;
  }

  private id(type: ResourceType, namespace: string | undefined, name: string): string {
    return type.namespaced ? `${namespace ?? ""}/${name}` : name;
  }

  private checkKind(type: ResourceType, input: KubeObjectInput): void {
    if (input === null || typeof input !== "object" || Array.isArray(input)) throw badRequest("the body of the request was not a JSON object");
    if (input.kind && input.kind !== type.kind) throw badRequest(`the kind of the object (${input.kind}) does not match the resource (${resourceKey(type)})`);
    if (input.apiVersion && input.apiVersion !== apiVersionOf(type)) {
      throw badRequest(`the apiVersion of the object (${input.apiVersion}) does not match the resource (${apiVersionOf(type)})`);
    }
  }

  private checkNamespaceAcceptsContent(type: ResourceType, name: string, namespace: string | undefined): void {
    if (!namespace) throw invalid(type, name, "metadata.namespace", "Required value");
    const owner = this.table("namespaces").get(namespace);
    if (!owner) throw notFound(this.typeOf("namespaces"), namespace);
    if (owner.metadata.deletionTimestamp) {
      throw forbidden(`${type.plural} "${name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`);
    }
  }

  private deleteObject(key: string, type: ResourceType, stored: KubeObject): KubeObject {
    if (key === "namespaces") return this.terminateNamespace(stored);
    if (!stored.metadata.finalizers?.length) return this.removeNow(key, type, clone(stored));
    if (stored.metadata.deletionTimestamp) return clone(stored);
    const marked = clone(stored);
    marked.metadata.deletionTimestamp = now();
    marked.metadata.deletionGracePeriodSeconds = 0;
    this.commit("MODIFIED", key, marked, stored);
    return clone(marked);
  }

  private removeNow(key: string, type: ResourceType, object: KubeObject): KubeObject {
    this.commit("DELETED", key, object);
    this.collectDependents(object.metadata.uid);
    if (type.namespaced) this.finishNamespaceIfEmpty(object.metadata.namespace!);
    return clone(object);
  }

  private *everything(): Generator<[string, KubeObject]> {
    for (const [key, table] of this.tables) for (const object of [...table.values()]) yield [key, object];
  }

  private exists(uid: string): boolean {
    for (const [, object] of this.everything()) if (object.metadata.uid === uid) return true;
    return false;
  }

  /** Background garbage collection: a dependent whose owners are all gone goes too; one that
   *  still has a live owner only loses the reference to the one that went. */
  private collectDependents(ownerUid: string): void {
    for (const [key, dependent] of this.everything()) {
      const references = dependent.metadata.ownerReferences ?? [];
      if (!references.some((reference) => reference.uid === ownerUid)) continue;
      const current = this.table(key).get(this.id(this.typeOf(key), dependent.metadata.namespace, dependent.metadata.name));
      if (current !== dependent) continue; // already gone through another owner's collection
      const others = references.filter((reference) => reference.uid !== ownerUid);
      if (others.some((reference) => this.exists(reference.uid))) this.stripOwner(key, dependent, ownerUid);
      else this.deleteObject(key, this.typeOf(key), dependent);
    }
  }

  private orphanDependents(ownerUid: string): void {
    for (const [key, dependent] of this.everything()) {
      if (dependent.metadata.ownerReferences?.some((reference) => reference.uid === ownerUid)) this.stripOwner(key, dependent, ownerUid);
    }
  }

  private stripOwner(key: string, dependent: KubeObject, ownerUid: string): void {
    const next = clone(dependent);
    next.metadata.ownerReferences = next.metadata.ownerReferences!.filter((reference) => reference.uid !== ownerUid);
    if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
    this.commit("MODIFIED", key, next, dependent);
  }

  /** A deleted namespace is Terminating until everything in it is gone (finalizers included),
   *  then it goes itself, as the namespace controller does it. */
  private terminateNamespace(stored: KubeObject): KubeObject {
    let current = stored;
    if (!stored.metadata.deletionTimestamp) {
      current = clone(stored);
      current.metadata.deletionTimestamp = now();
      current.metadata.deletionGracePeriodSeconds = 0;
      current.status = { ...(current.status as object), phase: "Terminating" };
      this.commit("MODIFIED", "namespaces", current, stored);
    }
    const namespace = stored.metadata.name;
    for (const [key, object] of this.everything()) {
      if (object.metadata.namespace !== namespace || !this.typeOf(key).namespaced) continue;
      if (this.table(key).get(`${namespace}/${object.metadata.name}`) === object) this.deleteObject(key, this.typeOf(key), object);
    }
    this.finishNamespaceIfEmpty(namespace);
    return clone(current);
  }

  private finishNamespaceIfEmpty(namespace: string): void {
    const stored = this.table("namespaces").get(namespace);
    if (!stored?.metadata.deletionTimestamp || stored.metadata.finalizers?.length) return;
    for (const [key, object] of this.everything()) if (key !== "namespaces" && object.metadata.namespace === namespace) return;
    this.removeNow("namespaces", this.typeOf("namespaces"), clone(stored));
  }

  private commit(type: ChangeType, key: string, object: KubeObject, previous?: KubeObject): void {
    this.revision++;
    object.metadata.resourceVersion = String(this.revision);
    const id = this.id(this.typeOf(key), object.metadata.namespace, object.metadata.name);
    if (type === "DELETED") this.table(key).delete(id);
    else this.table(key).set(id, object);
    const change: StoredChange = { type, key, object: clone(object), resourceVersion: this.revision, ...(previous ? { previous: clone(previous) } : {}) };
    this.history.push(change);
    while (this.history.length > this.historyLimit) this.forgottenThrough = this.history.shift()!.resourceVersion;
    this.undelivered.push(change);
    this.deliver();
  }

  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let change = this.undelivered.shift(); change; change = this.undelivered.shift()) {
        for (const listener of [...this.listeners]) {
          try {
            listener(change);
          } catch (error) {
            // A listener's bug must not stop the others from hearing of the change, nor
            // vanish: it surfaces as an uncaught exception, which fails the test that caused it.
            queueMicrotask(() => {
              throw error;
            });
          }
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}
