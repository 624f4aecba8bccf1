// What every sandbox's pod is made of, beyond its own spec: the installation's choices
// (image, storage, sizes, hardening) and where its supervisor dials. Built once from
// settings at start-up; the manifest builders are pure functions of it and a spec.

export interface LinkTarget {
  /** What the supervisor dials and checks the certificate for (a DNS name or an IP). */
  host: string;
  port: number;
  /** The host's address, when host is a name: written into the pod's /etc/hosts, since
   *  sandboxes get no DNS (it would be a way out). */
  address?: string;
}

/** Who a sandbox's pod may reach: the control plane's pods (by labels) and/or a CIDR (a
 *  control plane outside the cluster), on the link's port. */
export interface LinkPeers {
  podLabels?: Record<string, string>;
  /** The link's port on the control plane's pods (a Service may map another port to it). */
  podPort?: number;
  cidr?: string;
}

export interface PodSettings {
  installation: string;
  namespace: string;
  runtimeImage: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  link: LinkTarget;
  linkPeers: LinkPeers;
  storageClass?: string;
  /** Kubernetes quantities, e.g. "10Gi". */
  workspaceSize: string;
  homeSize: string;
  requests: { cpu: string; memory: string };
  /** Used when a spec has no limits of its own. */
  defaultLimits: { cpus: number; memoryBytes: number };
  runtimeClassName?: string;
  /** `hostUsers: false`: the pod's root is not the node's (clusters with user namespaces). */
  userNamespaces: boolean;
  /** The supervisor's SIGTERM→SIGKILL grace for its processes (ms); the pod gets a few seconds more. */
  stopGraceMs: number;
}

/** Where things are inside a sandbox's pod. */
export const POD_PATHS = {
  workspace: "/workspace",
  home: "/home/outpost",
  state: "/var/lib/outpost",
  /** CA files, read-only (the sandbox's ConfigMap). */
  config: "/run/outpost-config",
  /** The link token, read-only (the sandbox's Secret). */
  token: "/run/outpost-token",
  /** Writable: the CA files the sandbox's tools trust (copied by the seed init container)
   *  and the ssh-agent socket the supervisor serves (SSH_AUTH_SOCK). */
  run: "/run/outpost",
  node: "/opt/outpost/bin/node",
  supervisor: "/opt/outpost/supervisor.js",
} as const;

/** The sandbox user of the runtime image (deploy/runtime/Dockerfile). */
export const SANDBOX_UID = 1000;
