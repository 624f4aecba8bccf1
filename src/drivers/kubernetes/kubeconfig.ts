// Which cluster and namespace the driver talks to: KUBECONFIG's file, else the pod's own
// service account when running in a cluster, else ~/.kube/config. A kubeconfig whose server
// is localhost while running in a pod is refused: inside a pod, localhost is the pod.
import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { StartupError } from "../../domain/errors.ts";

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

export interface ClusterAccess {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Whether this process runs in a pod of the cluster. */
  inCluster: boolean;
  server: string;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[?::1\]?)$/i;

/** The settings this needs (config/kubernetes-settings.ts has them all). */
export interface ClusterChoice {
  /** KUBECONFIG. */
  kubeconfig?: string;
  /** KUBERNETES_SERVICE_HOST: set in every pod. */
  inClusterHost?: string;
  /** OUTPOST_KUBE_NAMESPACE. */
  namespace?: string;
}

export function loadClusterAccess(settings: ClusterChoice, serviceAccountDir = SERVICE_ACCOUNT): ClusterAccess {
  const inCluster = settings.inClusterHost !== undefined;
  const kubeConfig = new KubeConfig();
  try {
    if (settings.kubeconfig) kubeConfig.loadFromFile(settings.kubeconfig);
    else if (inCluster && existsSync(`${serviceAccountDir}/token`)) kubeConfig.loadFromCluster();
    else kubeConfig.loadFromDefault();
  } catch (error) {
    throw new StartupError(
      `cannot read the kubeconfig${settings.kubeconfig ? ` ${settings.kubeconfig}` : ""}: ${(error as Error).message.slice(0, 200)}`,
      "set KUBECONFIG to a readable kubeconfig file, or run Outpost in the cluster with a service account",
    );
  }
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster?.server) throw new StartupError("no Kubernetes cluster is configured", "set KUBECONFIG to a kubeconfig file with a current context");
  const server = cluster.server;
  const host = URL.canParse(server) ? new URL(server).hostname : "";
  if (inCluster && settings.kubeconfig && LOOPBACK.test(host)) {
    throw new StartupError(
      `the kubeconfig's server ${server} is this pod itself: inside a cluster, localhost is not the API server`,
      "unset KUBECONFIG to use the pod's service account, or point the kubeconfig at the cluster's address",
    );
  }
  const fromContext = kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace;
  const fromPod = inCluster && existsSync(`${serviceAccountDir}/namespace`) ? readFileSync(`${serviceAccountDir}/namespace`, "utf8").trim() : undefined;
  const namespace = settings.namespace ?? fromContext ?? fromPod ?? "default";
  return { kubeConfig, namespace, inCluster, server };
}
