// The resource types the stand-in serves, and the discovery documents describing them. The
// generic KubernetesObjectApi asks discovery which plural and scope a kind has before every
// first call, so these documents must look like a real API server's.
import type { ResourceType } from "./types.ts";

const core = (kind: string, plural: string, namespaced = true, status = false): ResourceType => ({
  group: "",
  version: "v1",
  kind,
  plural,
  namespaced,
  status,
});
const grouped = (group: string, version: string, kind: string, plural: string, status = false): ResourceType => ({
  group,
  version,
  kind,
  plural,
  namespaced: true,
  status,
});

export const RESOURCES: ResourceType[] = [
  core("Namespace", "namespaces", false, true),
  core("Pod", "pods", true, true),
  core("Secret", "secrets"),
  core("ConfigMap", "configmaps"),
  core("Service", "services", true, true),
  core("PersistentVolumeClaim", "persistentvolumeclaims", true, true),
  core("Event", "events"),
  core("ServiceAccount", "serviceaccounts"),
  grouped("apps", "v1", "StatefulSet", "statefulsets", true),
  grouped("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
  grouped("networking.k8s.io", "v1", "Ingress", "ingresses", true),
  grouped("coordination.k8s.io", "v1", "Lease", "leases"),
  grouped("apps.kubeblocks.io", "v1", "Cluster", "clusters", true),
  grouped("postgresql.cnpg.io", "v1", "Cluster", "clusters", true),
  grouped("agents.x-k8s.io", "v1beta1", "Sandbox", "sandboxes", true),
];

/** key of a resource: plural for the core group, `${plural}.${group}` otherwise */
export function resourceKey(type: ResourceType): string {
  return type.group === "" ? type.plural : `${type.plural}.${type.group}`;
}

export function apiVersionOf(type: ResourceType): string {
  return type.group === "" ? type.version : `${type.group}/${type.version}`;
}

export function findByKey(key: string): ResourceType | undefined {
  return RESOURCES.find((type) => resourceKey(type) === key);
}

export function findByPath(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((type) => type.group === group && type.version === version && type.plural === plural);
}

/** Lists of built-in types carry items without apiVersion/kind on a real server; custom
 *  resources keep them. Clients that rely on items[].kind must learn that here. */
export function isBuiltIn(type: ResourceType): boolean {
  return ["", "apps", "networking.k8s.io", "coordination.k8s.io"].includes(type.group);
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export function resourceList(group: string, version: string): object | undefined {
  const types = RESOURCES.filter((type) => type.group === group && type.version === version);
  if (types.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    // The main entry comes before "<plural>/status": clients pick the first entry of a kind.
    resources: types.flatMap((type) => [
      { name: type.plural, singularName: type.kind.toLowerCase(), namespaced: type.namespaced, kind: type.kind, verbs: VERBS },
      ...(type.status
        ? [{ name: `${type.plural}/status`, singularName: "", namespaced: type.namespaced, kind: type.kind, verbs: ["get", "patch", "update"] }]
        : []),
    ]),
  };
}

function groupDocument(group: string): object {
  const versions = [...new Set(RESOURCES.filter((type) => type.group === group).map((type) => type.version))].map((version) => ({
    groupVersion: `${group}/${version}`,
    version,
  }));
  return { kind: "APIGroup", apiVersion: "v1", name: group, versions, preferredVersion: versions[0] };
}

export function groupsDocument(): object {
  const groups = [...new Set(RESOURCES.map((type) => type.group).filter((group) => group !== ""))];
  return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupDocument) };
}

export function groupDocumentFor(group: string): object | undefined {
  return RESOURCES.some((type) => type.group === group) ? groupDocument(group) : undefined;
}

export function coreVersionsDocument(serverAddress: string): object {
  return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
}

export const VERSION_DOCUMENT = {
  major: "1",
  minor: "31",
  gitVersion: "v1.31.0-outpost-fake",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-08-13T00:00:00Z",
  goVersion: "go1.22.5",
  compiler: "gc",
  platform: "linux/amd64",
};
