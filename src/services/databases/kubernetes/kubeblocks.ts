// The `kubeblocks` provisioner: each project's database in a KubeBlocks 1.x `Cluster`
// (apps.kubeblocks.io/v1) of the postgresql addon. KubeBlocks names what it makes from the
// cluster and its component: the superuser's Secret `<cluster>-postgresql-account-postgres`
// (username, password) and the primary's Service `<cluster>-postgresql-postgresql`:5432.
// The Cluster is ready at status.phase Running; Failed is reported as it is.
// See cluster-provisioner.ts for what is done with it.
import type { KubeConfig } from "@kubernetes/client-node";
import { type ClusterKind, ClusterProvisioner, type ClusterProvisionerOptions, type Readiness } from "./cluster-provisioner.ts";
import { KUBEBLOCKS_COMPONENT, type KubeObject, kubeBlocksCluster } from "./manifests.ts";

/** PostgreSQL 15: the major of the host's pg_dump and psql (Debian 12), which refuse a newer server. */
export const DEFAULT_KUBEBLOCKS_SERVICE_VERSION = "15.7.0";

/** `<cluster>-postgresql-postgresql` must stay a DNS label (≤ 63). */
const MAX_NAME = 63 - `-${KUBEBLOCKS_COMPONENT}-postgresql`.length;

interface KubeBlocksStatus {
  phase?: string;
  message?: Record<string, string>;
  conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
  components?: Record<string, { phase?: string; message?: Record<string, string> }>;
}

/** Running: ready. Failed: failed. Anything else (Creating, Updating, Abnormal, Stopped…): not yet, with the operator's words. */
export function kubeBlocksReadiness(cluster: KubeObject): Readiness {
  const status = (cluster.status ?? {}) as KubeBlocksStatus;
  if (status.phase === "Running") return { state: "ready" };
  const words = [
    ...Object.values(status.message ?? {}),
    ...Object.values(status.components?.[KUBEBLOCKS_COMPONENT]?.message ?? {}),
    ...(status.conditions ?? [])
      .filter((condition) => condition.status === "False" && condition.message)
      .map((condition) => `${condition.type}: ${condition.message}`),
  ];
  const detail = `phase ${status.phase ?? "(none yet)"}${words.length ? ` (${words.join("; ")})` : ""}`;
  return { state: status.phase === "Failed" ? "failed" : "waiting", detail };
}

export function kubeBlocksKind(serviceVersion = DEFAULT_KUBEBLOCKS_SERVICE_VERSION): ClusterKind {
  return {
    provisioner: "kubeblocks",
    title: "KubeBlocks",
    apiVersion: "apps.kubeblocks.io/v1",
    plural: "clusters",
    maxNameLength: MAX_NAME,
    manifest: (input) => kubeBlocksCluster(input, serviceVersion),
    readiness: kubeBlocksReadiness,
    superuserSecret: (cluster) => `${cluster}-${KUBEBLOCKS_COMPONENT}-account-postgres`,
    primaryService: (cluster) => `${cluster}-${KUBEBLOCKS_COMPONENT}-postgresql`,
  };
}

export class KubeBlocksProvisioner extends ClusterProvisioner {
  constructor(kc: KubeConfig, namespace: string, options: ClusterProvisionerOptions & { serviceVersion?: string }) {
    super(kc, namespace, kubeBlocksKind(options.serviceVersion), options);
  }
}
