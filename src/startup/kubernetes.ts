// Start-up, Kubernetes (OUTPOST_DRIVER=kubernetes): the cluster access, the pods' settings
// and the driver, from settings. The installation id comes from configuration
// (OUTPOST_INSTALLATION, else the namespace), never from this pod's or host's name, so a
// rollout, a restart or another replica adopts the same sandboxes.
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Logger } from "pino";
import type { KubernetesSettings } from "../config/kubernetes-settings.ts";
import type { Settings } from "../config/settings.ts";
import { StartupError } from "../domain/errors.ts";
import { loadClusterAccess } from "../drivers/kubernetes/kubeconfig.ts";
import { KubernetesDriver } from "../drivers/kubernetes/kubernetes-driver.ts";
import { linkTokenKey } from "../drivers/kubernetes/link-token.ts";
import type { PodSettings } from "../drivers/kubernetes/manifests/pod-settings.ts";
import type { EgressRuntime } from "./egress.ts";

export function splitHostPort(value: string): { host: string; port: number } {
  const at = value.lastIndexOf(":");
  return { host: value.slice(0, at).replace(/^\[|\]$/g, ""), port: Number(value.slice(at + 1)) };
}

export function parseLabels(value: string): Record<string, string> {
  return Object.fromEntries(value.split(",").map((pair) => pair.split("=", 2) as [string, string]));
}

export interface KubernetesStartOptions {
  settings: Settings & { kubernetes: KubernetesSettings };
  secretKey: Buffer;
  egress: Pick<EgressRuntime, "endpoint" | "tlsContextFor">;
  stopGraceMs?: number;
  logger: Logger;
}

/** The driver, and one line for the start-up banner saying which cluster it uses. */
export async function createKubernetesDriver(options: KubernetesStartOptions): Promise<{ driver: KubernetesDriver; detail: string }> {
  const k = options.settings.kubernetes;
  const access = loadClusterAccess(k);
  const installation = k.installation ?? access.namespace;
  const link = splitHostPort(k.linkAddress);
  const listen = splitHostPort(k.linkListen);
  // Sandboxes have no DNS: the link's name is resolved here, once, into their /etc/hosts.
  let address: string | undefined;
  if (!isIP(link.host)) {
    try {
      address = (await lookup(link.host)).address;
    } catch (error) {
      throw new StartupError(
        `cannot resolve OUTPOST_LINK_ADDRESS's host ${link.host}: ${(error as Error).message.slice(0, 120)}`,
        "set OUTPOST_LINK_ADDRESS to the link Service's name (or an IP) that pods reach",
      );
    }
  }
  const pod: PodSettings = {
    installation,
    namespace: access.namespace,
    runtimeImage: k.runtimeImage,
    imagePullPolicy: k.imagePullPolicy,
    link: { ...link, address },
    linkPeers: { podLabels: parseLabels(k.controlPlaneLabels), podPort: listen.port, cidr: k.controlPlaneCidr },
    storageClass: k.storageClass,
    workspaceSize: k.workspaceSize,
    homeSize: k.homeSize,
    requests: { cpu: k.cpuRequest, memory: k.memoryRequest },
    defaultLimits: { cpus: options.settings.sandboxCpus, memoryBytes: options.settings.sandboxMemoryMb * 1024 * 1024 },
    runtimeClassName: k.runtimeClass,
    userNamespaces: k.userNamespaces,
    stopGraceMs: options.stopGraceMs ?? 10_000,
  };
  const log = options.logger.child({ component: "kubernetes" });
  log.info({ server: access.server, namespace: access.namespace, installation, inCluster: access.inCluster }, "sandboxes run on Kubernetes");
  const driver = new KubernetesDriver({
    kubeConfig: access.kubeConfig,
    pod,
    workload: k.workload,
    listen,
    tlsContextFor: options.egress.tlsContextFor,
    tokenKey: linkTokenKey(options.secretKey, installation),
    egress: options.egress.endpoint,
    log: (message) => log.info(message),
  });
  return { driver, detail: `Kubernetes, namespace ${access.namespace} at ${access.server}, installation ${installation}` };
}
