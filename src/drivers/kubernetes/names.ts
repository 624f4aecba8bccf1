// How a sandbox's objects are named and labelled in its namespace (pure). Sandbox ids may
// hold capitals and '_', which object names may not, so a name is the id made DNS-safe
// plus a short hash of the exact id: two ids that differ only in case never share
// objects. Labels carry the exact id, and they (never names) are how the driver finds
// what is its own: a restarted control plane, a new replica or another pod name adopts
// everything labelled with its installation.
import { createHash } from "node:crypto";

export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const INSTALLATION_LABEL = "outpost.dev/installation";
export const PROJECT_LABEL = "outpost.dev/project";
export const SANDBOX_LABEL = "outpost.dev/sandbox";
/** On a workspace claim kept after its sandbox was removed (keepWorkspace). */
export const KEPT_LABEL = "outpost.dev/kept-workspace";
/** Which volume of a sandbox a claim is (workspace | home). */
export const VOLUME_LABEL = "outpost.dev/volume";
/** The stop grace (ms) and the sandbox's name, for people reading the objects. */
export const NAME_ANNOTATION = "outpost.dev/sandbox-name";

/** A StatefulSet's pods carry `controller-revision-hash: <set>-<10 chars>` (≤ 63), so a set's name stays ≤ 52. */
const MAX_SET_NAME = 52;

export function objectName(sandboxId: string): string {
  const hash = createHash("sha256").update(sandboxId).digest("hex").slice(0, 8);
  const readable = sandboxId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_SET_NAME - hash.length - 1)
    .replace(/-+$/, "");
  return readable ? `${readable}-${hash}` : `sbx-${hash}`;
}

/** The one pod of a sandbox's StatefulSet. */
export const podName = (sandboxId: string) => `${objectName(sandboxId)}-0`;
/** Claims made from the set's volumeClaimTemplates: `<template>-<set>-<ordinal>`. */
export const claimName = (volume: "workspace" | "home", sandboxId: string) => `${volume}-${objectName(sandboxId)}-0`;

/** Label values: ≤ 63 of [A-Za-z0-9_.-], starting and ending alphanumeric. */
export const isLabelValue = (value: string) => /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?$/.test(value);

export function installationSelector(installation: string): string {
  return `${MANAGED_BY}=outpost,${INSTALLATION_LABEL}=${installation}`;
}

export function sandboxLabels(installation: string, sandboxId: string, projectId?: string): Record<string, string> {
  return {
    [MANAGED_BY]: "outpost",
    [INSTALLATION_LABEL]: installation,
    [SANDBOX_LABEL]: sandboxId,
    ...(projectId ? { [PROJECT_LABEL]: projectId } : {}),
  };
}
