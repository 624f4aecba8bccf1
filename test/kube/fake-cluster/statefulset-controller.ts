// The StatefulSet controller, as far as a single-node test cluster needs it: pods
// `<set>-<ordinal>` from the template (created in order, each after the one before is Ready,
// unless podManagementPolicy is Parallel), one claim per volume claim template and ordinal,
// scale-down from the highest ordinal, the claim retention policy, rolling updates when the
// template changes, and the status counters clients wait on.
//
// Where it is kinder than the real one: a rolling update replaces an outdated pod even when
// that pod is not Ready (the real controller waits for a broken pod forever), and scale-down
// does not wait for the remaining pods to be Ready.
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { ClusterContext } from "./context.ts";
import {
  asClaim,
  asPod,
  controllerOf,
  isPodReady,
  isTerminating,
  KEYS,
  type KubeObject,
  type OwnerRef,
  ownerRefTo,
  type PodObject,
  shortHash,
  stableJson,
  update,
  writeStatus,
} from "./objects.ts";
import { type ClaimTemplate, claimFromTemplate, podFromTemplate } from "./templates.ts";

type SetObject = KubeObject & IStatefulSet & { metadata: KubeObject["metadata"] };

export const REVISION_LABEL = "controller-revision-hash";

export class StatefulSetController {
  constructor(private readonly context: ClusterContext) {}

  /** The set a pod belongs to: news about the pod is news for it. */
  static ownerOf(object: KubeObject): string | undefined {
    const owner = controllerOf(object);
    return owner?.kind === "StatefulSet" ? owner.name : undefined;
  }

  reconcile(name: string): void {
    const found = this.context.api.get(KEYS.statefulSets, this.context.namespace, name);
    if (!found || isTerminating(found)) return; // the API server's garbage collector takes it from here
    const set = found as SetObject;
    const revision = `${name}-${shortHash(set.spec?.template ?? {})}`;
    const replicas = set.spec?.replicas ?? 1;
    const ordered = set.spec?.podManagementPolicy !== "Parallel";
    const pods = this.#ownedPods(set);
    this.#scaleUp(set, pods, replicas, revision, ordered);
    if (!this.#scaleDown(set, pods, replicas, ordered)) this.#rollOut(set, pods, replicas, revision);
    this.#writeStatus(set, revision);
  }

  #scaleUp(set: SetObject, pods: Map<number, PodObject>, replicas: number, revision: string, ordered: boolean): void {
    const { api, namespace } = this.context;
    for (let ordinal = 0; ordinal < replicas; ordinal++) {
      this.#syncClaims(set, ordinal, undefined);
      const pod = pods.get(ordinal);
      if (!pod) {
        api.create(KEYS.pods, this.#newPod(set, ordinal, revision));
        this.context.log(`statefulset ${set.metadata.name}: created pod ${set.metadata.name}-${ordinal}`);
      } else if (!isTerminating(pod) && (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded")) {
        api.remove(KEYS.pods, namespace, pod.metadata.name); // recreated once it is gone
      } else if (isPodReady(pod) && !isTerminating(pod)) {
        continue;
      }
      if (ordered) return;
    }
  }

  /** Deletes condemned pods, highest ordinal first; true while one is still going. */
  #scaleDown(set: SetObject, pods: Map<number, PodObject>, replicas: number, ordered: boolean): boolean {
    const condemned = [...pods.entries()].filter(([ordinal]) => ordinal >= replicas).sort(([a], [b]) => b - a);
    for (const [ordinal, pod] of condemned) {
      if (!isTerminating(pod)) {
        this.#syncClaims(set, ordinal, pod);
        this.context.api.remove(KEYS.pods, this.context.namespace, pod.metadata.name);
        this.context.log(`statefulset ${set.metadata.name}: deleting pod ${pod.metadata.name} (scale down)`);
      }
      if (ordered) return true;
    }
    return condemned.length > 0;
  }

  /** Replaces one outdated pod at a time, highest ordinal first, down to the partition. */
  #rollOut(set: SetObject, pods: Map<number, PodObject>, replicas: number, revision: string): void {
    const strategy = set.spec?.updateStrategy;
    if (strategy?.type === "OnDelete") return;
    const live = [...pods.entries()].filter(([ordinal]) => ordinal < replicas);
    if (live.some(([, pod]) => isTerminating(pod))) return;
    const partition = strategy?.rollingUpdate?.partition ?? 0;
    const outdated = live.filter(([ordinal, pod]) => ordinal >= partition && pod.metadata.labels?.[REVISION_LABEL] !== revision).sort(([a], [b]) => b - a)[0];
    if (!outdated) return;
    this.context.api.remove(KEYS.pods, this.context.namespace, outdated[1].metadata.name);
    this.context.log(`statefulset ${set.metadata.name}: replacing pod ${outdated[1].metadata.name} with revision ${revision}`);
  }

  /** Creates an ordinal's missing claims and keeps their owners as the retention policy says:
   *  whenDeleted Delete → owned by the set; whenScaled Delete → owned by the condemned pod too,
   *  so the garbage collector deletes the claim once that pod is gone. */
  #syncClaims(set: SetObject, ordinal: number, condemned: PodObject | undefined): void {
    const { api, namespace } = this.context;
    const policy = set.spec?.persistentVolumeClaimRetentionPolicy;
    const setOwned = policy?.whenDeleted === "Delete";
    const podOwned = condemned !== undefined && policy?.whenScaled === "Delete";
    for (const template of (set.spec?.volumeClaimTemplates ?? []) as ClaimTemplate[]) {
      const name = `${template.metadata?.name}-${set.metadata.name}-${ordinal}`;
      const found = api.get(KEYS.claims, namespace, name);
      if (!found) {
        if (condemned) continue;
        const labels = { ...(set.spec?.selector?.matchLabels ?? {}) };
        api.create(KEYS.claims, claimFromTemplate(template, { name, namespace, labels, owners: setOwned ? [ownerRefTo(set, true)] : [] }));
        continue;
      }
      if (isTerminating(found)) continue;
      const owners = (found.metadata.ownerReferences ?? []) as OwnerRef[];
      const wanted = owners.filter((ref) =>
        ref.uid === set.metadata.uid ? setOwned : ref.kind === "Pod" ? podOwned && ref.uid === condemned?.metadata.uid : true,
      );
      if (setOwned && !wanted.some((ref) => ref.uid === set.metadata.uid)) wanted.push(ownerRefTo(set, true));
      if (podOwned && condemned && !wanted.some((ref) => ref.uid === condemned.metadata.uid)) wanted.push(ownerRefTo(condemned, false));
      if (stableJson(wanted) === stableJson(owners)) continue;
      update(api, KEYS.claims, asClaim(found), (copy) => {
        copy.metadata.ownerReferences = wanted;
      });
    }
  }

  #newPod(set: SetObject, ordinal: number, revision: string): KubeObject {
    const name = `${set.metadata.name}-${ordinal}`;
    const claims = new Map<string, string>();
    for (const template of (set.spec?.volumeClaimTemplates ?? []) as ClaimTemplate[]) {
      claims.set(template.metadata?.name ?? "", `${template.metadata?.name}-${name}`);
    }
    return podFromTemplate(set.spec?.template ?? {}, {
      name,
      namespace: this.context.namespace,
      labels: { "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": String(ordinal), [REVISION_LABEL]: revision },
      owner: ownerRefTo(set, true),
      claims,
      hostname: name,
      ...(set.spec?.serviceName ? { subdomain: set.spec.serviceName } : {}),
    });
  }

  #ownedPods(set: SetObject): Map<number, PodObject> {
    const pattern = new RegExp(`^${set.metadata.name.replace(/[.]/g, "\\.")}-(\\d+)$`);
    const pods = new Map<number, PodObject>();
    for (const pod of this.context.api.list(KEYS.pods, this.context.namespace)) {
      const ordinal = pattern.exec(pod.metadata.name)?.[1];
      if (ordinal !== undefined && controllerOf(pod)?.uid === set.metadata.uid) pods.set(Number(ordinal), asPod(pod));
    }
    return pods;
  }

  /** Counters as the real API reports them: readyReplicas, currentReplicas and updatedReplicas
   *  are left out when zero (omitempty), replicas and availableReplicas never are. */
  #writeStatus(set: SetObject, revision: string): void {
    const pods = [...this.#ownedPods(set).values()];
    const current = pods.filter((pod) => !isTerminating(pod) && pod.metadata.labels?.[REVISION_LABEL] === revision).length;
    const ready = pods.filter(isPodReady).length;
    const status = {
      observedGeneration: set.metadata.generation,
      replicas: pods.length,
      ...(ready ? { readyReplicas: ready } : {}),
      availableReplicas: ready,
      ...(current ? { currentReplicas: current, updatedReplicas: current } : {}),
      currentRevision: revision,
      updateRevision: revision,
      collisionCount: 0,
    };
    if (stableJson(status) === stableJson(set.status ?? {})) return;
    writeStatus(this.context.api, KEYS.statefulSets, this.context.namespace, set.metadata.name, status);
  }
}
