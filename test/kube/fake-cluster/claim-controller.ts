// PersistentVolumeClaims as a cluster with a dynamic provisioner treats them: each claim is
// Bound at once to a folder of its own, and the folder goes when the claim object goes.
// Like the real pvc-protection finalizer, a claim being deleted waits until no pod that
// uses it is left, so a container never loses its files while it still runs.
import { mkdirSync, rmSync } from "node:fs";
import { type ClusterContext, hostPaths } from "./context.ts";
import { asClaim, asPod, KEYS, update, withFinalizer, withoutFinalizer } from "./objects.ts";

export const CLAIM_PROTECTION = "kubernetes.io/pvc-protection";

export class ClaimController {
  constructor(private readonly context: ClusterContext) {}

  folder(claim: string): string {
    return hostPaths.claim(this.context.root, this.context.namespace, claim);
  }

  reconcile(name: string): void {
    const { api, namespace } = this.context;
    const found = api.get(KEYS.claims, namespace, name);
    if (!found) {
      rmSync(this.folder(name), { recursive: true, force: true });
      return;
    }
    const claim = asClaim(found);
    const finalizers = claim.metadata.finalizers ?? [];
    if (claim.metadata.deletionTimestamp) {
      if (!finalizers.includes(CLAIM_PROTECTION) || this.#usedByPods(name)) return;
      rmSync(this.folder(name), { recursive: true, force: true });
      update(api, KEYS.claims, claim, (copy) => withoutFinalizer(copy, CLAIM_PROTECTION));
      this.context.log(`claim ${name}: released, folder removed`);
      return;
    }
    // 0777: a container running under another uid must be able to write (a stand-in for fsGroup).
    mkdirSync(this.folder(name), { recursive: true, mode: 0o777 });
    const current = finalizers.includes(CLAIM_PROTECTION) ? claim : update(api, KEYS.claims, claim, (copy) => withFinalizer(copy, CLAIM_PROTECTION));
    if (current.status?.phase === "Bound") return;
    const storage = current.spec?.resources?.requests?.["storage"];
    api.patchStatus(KEYS.claims, namespace, name, {
      phase: "Bound",
      accessModes: current.spec?.accessModes ?? ["ReadWriteOnce"],
      ...(storage === undefined ? {} : { capacity: { storage } }),
    });
    this.context.log(`claim ${name}: bound to ${this.folder(name)}`);
  }

  /** Claims waiting for their pods to go: what a pod's disappearance may release. */
  terminatingClaims(): string[] {
    return this.context.api
      .list(KEYS.claims, this.context.namespace)
      .filter((claim) => claim.metadata.deletionTimestamp)
      .map((claim) => claim.metadata.name);
  }

  #usedByPods(claim: string): boolean {
    return this.context.api
      .list(KEYS.pods, this.context.namespace)
      .map(asPod)
      .some(
        (pod) =>
          pod.status?.phase !== "Succeeded" &&
          pod.status?.phase !== "Failed" &&
          (pod.spec?.volumes ?? []).some((volume) => volume.persistentVolumeClaim?.claimName === claim),
      );
  }
}
