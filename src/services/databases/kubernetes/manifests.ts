// What the cluster-per-project provisioners write to Kubernetes, as pure functions (no I/O):
// object names made DNS-safe from database names, the labels everything carries, a KubeBlocks
// or CloudNativePG `Cluster`, and the ConfigMap that says which cluster holds a database
// (branches live in their source's cluster, so a database's name alone does not tell).
// Only fields Outpost means are set; the operators default the rest. The CRDs themselves
// are only checked on a real cluster: test/databases/kubernetes-provisioners.test.ts checks
// these against schemas of exactly the fields set here.
import { createHash } from "node:crypto";
import type { DatabaseRef } from "../provisioner.ts";

export const MANAGED_BY = "app.kubernetes.io/managed-by";
export const INSTALLATION_LABEL = "outpost.dev/installation";
export const DATABASE_LABEL = "outpost.dev/database";
/** On a database's home ConfigMap: the cluster that holds the database. */
export const CLUSTER_LABEL = "outpost.dev/cluster";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A Kubernetes object as read or written here (custom ones included). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

/** How big each project's cluster is (the operator's defaults for everything else). */
export interface ClusterShape {
  /** PostgreSQL instances (1: a primary only; more: streaming replicas with failover). */
  instances: number;
  /** Each instance's volume, e.g. "10Gi". */
  storage: string;
  /** The StorageClass of the volumes; unset: the cluster's default class. */
  storageClass?: string;
  /** Requests and limits of each instance, e.g. "1" and "1Gi". */
  cpu: string;
  memory: string;
}

export const DEFAULT_SHAPE: ClusterShape = { instances: 1, storage: "10Gi", cpu: "1", memory: "1Gi" };

/**
 * A DNS-1123 label (what Service names must be) from a database name: `p_shop_ab12cd` →
 * `p-shop-ab12cd`. Database names are `[a-z0-9_]` (domain/databases.ts), so mapping `_` to
 * `-` keeps them apart; a name longer than `maxLength` (the room the operator leaves for its
 * own suffixes) is cut and ends in a hash of the whole name, so two long names never meet.
 */
export function kubernetesName(databaseName: string, maxLength = 63): string {
  let name = databaseName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  // Service names (DNS-1035) start with a letter.
  if (!/^[a-z]/.test(name)) name = `db-${name}`.replace(/-+$/, "");
  if (name.length <= maxLength) return name;
  const hash = createHash("sha256").update(databaseName).digest("hex").slice(0, 8);
  return `${name.slice(0, maxLength - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** The labels on everything a provisioner makes for a database. */
export function databaseLabels(installation: string, databaseName: string): Record<string, string> {
  return { [MANAGED_BY]: "outpost", [INSTALLATION_LABEL]: installation, [DATABASE_LABEL]: databaseName };
}

/** Everything this installation's provisioner made, by label. */
export function installationSelector(installation: string): string {
  return `${MANAGED_BY}=outpost,${INSTALLATION_LABEL}=${installation}`;
}

export interface ClusterInput {
  name: string;
  namespace: string;
  installation: string;
  /** The database the cluster is made for (bootstrapped with it where the operator can). */
  ref: DatabaseRef;
  shape: ClusterShape;
}

function resources(shape: ClusterShape) {
  const amounts = { cpu: shape.cpu, memory: shape.memory };
  return { requests: { ...amounts }, limits: { ...amounts } };
}

/** The KubeBlocks component that is the PostgreSQL server (the addon's `postgresql` ClusterDefinition). */
export const KUBEBLOCKS_COMPONENT = "postgresql";

/**
 * A KubeBlocks 1.x `Cluster` of the `postgresql` ClusterDefinition, topology `replication`
 * (Patroni; one instance is a primary alone). terminationPolicy Delete: deleting the Cluster
 * deletes its volumes too, which is what dropping a project's database means.
 */
export function kubeBlocksCluster(input: ClusterInput, serviceVersion: string): KubeObject {
  const labels = databaseLabels(input.installation, input.ref.name);
  return {
    apiVersion: "apps.kubeblocks.io/v1",
    kind: "Cluster",
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      terminationPolicy: "Delete",
      clusterDef: "postgresql",
      topology: "replication",
      componentSpecs: [
        {
          name: KUBEBLOCKS_COMPONENT,
          serviceVersion,
          // The addon's Patroni finds its members by this label, `<cluster>-postgresql`;
          // the rest reach the component's pods, volumes, secrets and services.
          labels: { ...labels, "apps.kubeblocks.postgres.patroni/scope": `${input.name}-${KUBEBLOCKS_COMPONENT}` },
          replicas: input.shape.instances,
          resources: resources(input.shape),
          volumeClaimTemplates: [
            {
              name: "data",
              spec: {
                ...(input.shape.storageClass ? { storageClassName: input.shape.storageClass } : {}),
                accessModes: ["ReadWriteOnce"],
                resources: { requests: { storage: input.shape.storage } },
              },
            },
          ],
        },
      ],
    },
  };
}

/**
 * A CloudNativePG `Cluster` whose initdb makes the project's database and owner role (the
 * provisioner then sets the role's password and limits as on any server), with superuser
 * access on so that `<cluster>-superuser` exists for the provisioner to log in with.
 */
export function cloudNativePgCluster(input: ClusterInput, imageName: string): KubeObject {
  const labels = databaseLabels(input.installation, input.ref.name);
  return {
    apiVersion: "postgresql.cnpg.io/v1",
    kind: "Cluster",
    metadata: { name: input.name, namespace: input.namespace, labels },
    spec: {
      instances: input.shape.instances,
      imageName,
      enableSuperuserAccess: true,
      bootstrap: { initdb: { database: input.ref.name, owner: input.ref.role } },
      storage: { size: input.shape.storage, ...(input.shape.storageClass ? { storageClass: input.shape.storageClass } : {}) },
      resources: resources(input.shape),
      // Pods, volumes and services of the cluster carry the labels too.
      inheritedMetadata: { labels },
    },
  };
}

/** The home ConfigMap of a database: ConfigMap names may be 253 long, so the plain mapping always fits. */
export const homeName = (databaseName: string) => `outpost-db-${databaseName.toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`;

/**
 * Which cluster holds a database, written before the database or its cluster is made, so
 * that a drop always knows whether other databases (branches, a promoted branch) still live
 * in the cluster: the Cluster is deleted only with the last of them.
 */
export function homeConfigMap(input: { namespace: string; installation: string; databaseName: string; cluster: string }): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: homeName(input.databaseName),
      namespace: input.namespace,
      labels: { ...databaseLabels(input.installation, input.databaseName), [CLUSTER_LABEL]: input.cluster },
    },
    data: { database: input.databaseName, cluster: input.cluster },
  };
}
