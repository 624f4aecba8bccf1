// The `cloudnative-pg` provisioner: each project's database in a CloudNativePG `Cluster`
// (postgresql.cnpg.io/v1). Its initdb makes the project's database and owner role; with
// enableSuperuserAccess the operator keeps the superuser in `<cluster>-superuser` (username,
// password), and the primary is behind the Service `<cluster>-rw`:5432. Ready when the phase
// is "Cluster in healthy state" with an instance ready; the phases CloudNativePG gives up in
// (unrecoverable, cannot create objects, waiting for the user, plugin and image errors) are
// reported as failures. See cluster-provisioner.ts for what is done with it.
import type { KubeConfig } from "@kubernetes/client-node";
import { type ClusterKind, ClusterProvisioner, type ClusterProvisionerOptions, type Readiness } from "./cluster-provisioner.ts";
import { cloudNativePgCluster, type KubeObject } from "./manifests.ts";

/** PostgreSQL 15: the major of the host's pg_dump and psql (Debian 12), which refuse a newer server. */
export const DEFAULT_CLOUDNATIVE_PG_IMAGE = "ghcr.io/cloudnative-pg/postgresql:15";

/** A job pod `<cluster>-1-initdb-<5>` must stay a DNS label (≤ 63). */
const MAX_NAME = 48;

const HEALTHY = "Cluster in healthy state";
/** Phases that need a person (their wording moved between releases, hence patterns). */
const GIVEN_UP = /unrecoverable|unable to create|cannot (execute|proceed)|waiting for user|plugin|image catalog/i;

interface CloudNativePgStatus {
  phase?: string;
  phaseReason?: string;
  readyInstances?: number;
  instances?: number;
}

export function cloudNativePgReadiness(cluster: KubeObject): Readiness {
  const status = (cluster.status ?? {}) as CloudNativePgStatus;
  if (status.phase === HEALTHY && (status.readyInstances ?? 0) >= 1) return { state: "ready" };
  const ready = `${status.readyInstances ?? 0} of ${status.instances ?? (cluster.spec?.instances as number | undefined) ?? "?"} instances ready`;
  const detail = `phase ${status.phase ? `"${status.phase}"` : "(none yet)"}${status.phaseReason ? ` (${status.phaseReason})` : ""}, ${ready}`;
  return { state: status.phase && GIVEN_UP.test(status.phase) ? "failed" : "waiting", detail };
}

export function cloudNativePgKind(imageName = DEFAULT_CLOUDNATIVE_PG_IMAGE): ClusterKind {
  return {
    provisioner: "cloudnative-pg",
    title: "CloudNativePG",
    apiVersion: "postgresql.cnpg.io/v1",
    plural: "clusters",
    maxNameLength: MAX_NAME,
    manifest: (input) => cloudNativePgCluster(input, imageName),
    readiness: cloudNativePgReadiness,
    superuserSecret: (cluster) => `${cluster}-superuser`,
    primaryService: (cluster) => `${cluster}-rw`,
  };
}

export class CloudNativePgProvisioner extends ClusterProvisioner {
  constructor(kc: KubeConfig, namespace: string, options: ClusterProvisionerOptions & { imageName?: string }) {
    super(kc, namespace, cloudNativePgKind(options.imageName), options);
  }
}
