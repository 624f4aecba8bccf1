// A Kubernetes driver against a stand-in cluster, for tests: the stand-in API server
// (test/kube/fake-api-server.ts, real HTTP driven by the real client) and the simulated
// kubelet that runs each pod's containers as local processes in bubblewrap, with the
// real supervisor (dist/opt-outpost) standing in for the runtime image's /opt/outpost.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { SecretBox } from "../../../src/crypto/secrets.ts";
import type { SandboxInspection } from "../../../src/drivers/driver.ts";
import { KubernetesDriver, type KubernetesDriverOptions } from "../../../src/drivers/kubernetes/kubernetes-driver.ts";
import { linkTokenKey } from "../../../src/drivers/kubernetes/link-token.ts";
import { builtOutpostDir } from "../../../src/drivers/local/outpost-dir.ts";
import { CertificateAuthority, trustBundle } from "../../../src/egress/certificates.ts";
import { FakeKubeApi } from "../../kube/fake-api-server.ts";
import { FakeKubelet } from "../../kube/fake-kubelet.ts";
import { podSettings } from "./settings.ts";

export const NAMESPACE = "outpost";

export interface TestCluster {
  api: FakeKubeApi;
  kubelet: FakeKubelet;
  root: string;
  /** A driver as a control plane makes it; several may exist (restarts, replicas). */
  makeDriver(overrides?: Partial<KubernetesDriverOptions>): KubernetesDriver;
  /** What arrived on bridge connections, by kind. */
  bridged: { kind: string; sandboxId: string; socket: Socket }[];
  /** Closes every driver made, the kubelet (its containers) and the API server. */
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A cluster closed after the test. */
export async function testCluster(t: TestContext, options: { restartBackoffMs?: number } = {}): Promise<TestCluster> {
  const cluster = await startTestCluster(options);
  t.after(() => cluster.close());
  return cluster;
}

export async function startTestCluster(options: { restartBackoffMs?: number } = {}): Promise<TestCluster> {
  const root = mkdtempSync(join(tmpdir(), "outpost-k8s-"));
  const api = await FakeKubeApi.start();
  api.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } } as never);
  const kubelet = new FakeKubelet(api, {
    root: join(root, "node"),
    namespace: NAMESPACE,
    imageFiles: { "/opt/outpost": builtOutpostDir() },
    // As the real kubelet: a crashed container waits out a back-off (10 s first), which
    // the driver cuts short by replacing the pod when a sandbox is ensured again.
    restartBackoffMs: options.restartBackoffMs ?? 10_000,
  });
  kubelet.start();
  const secretKey = randomBytes(32);
  const ca = CertificateAuthority.loadOrCreate(join(root, "ca"), new SecretBox(secretKey));
  const linkPort = await freePort();
  const bridged: TestCluster["bridged"] = [];
  const drivers: KubernetesDriver[] = [];
  const close = async () => {
    for (const driver of drivers) await driver.close().catch(() => {});
    await kubelet.stop();
    await api.close();
    rmSync(root, { recursive: true, force: true });
  };
  const makeDriver = (overrides: Partial<KubernetesDriverOptions> = {}) => {
    const driver = new KubernetesDriver({
      kubeConfig: api.kubeConfig(NAMESPACE),
      pod: podSettings({ namespace: NAMESPACE, link: { host: "127.0.0.1", port: linkPort }, linkPeers: { cidr: "127.0.0.1/32" }, stopGraceMs: 2000 }),
      listen: { host: "127.0.0.1", port: linkPort },
      tlsContextFor: (name) => ca.contextFor(name),
      tokenKey: linkTokenKey(secretKey, "test-install"),
      egress: {
        caPem: ca.certificatePem,
        caBundlePem: trustBundle(ca.certificatePem),
        accept: (kind, sandboxId, socket) => {
          bridged.push({ kind, sandboxId, socket });
        },
      },
      readyTimeoutMs: 60_000,
      ...overrides,
    });
    drivers.push(driver);
    return driver;
  };
  return { api, kubelet, root, makeDriver, bridged, close };
}

/** The driver's inspect once its watches have delivered a state that matches (inspect reads
 *  the watches, so a change in the cluster shows there a moment later). */
export function inspectOnceSeen(driver: KubernetesDriver, sandboxId: string, matches: (inspection: SandboxInspection) => boolean): Promise<SandboxInspection> {
  return new Promise((resolve) => {
    const check = () =>
      void driver.inspect(sandboxId).then((inspection) => {
        if (!matches(inspection)) return;
        stop();
        resolve(inspection);
      });
    const stop = driver.onChange(check);
    check();
  });
}

/** A stand-in cluster for a whole control plane (which makes its own driver from settings):
 *  the API server with the namespace, the kubelet, a kubeconfig file and a free link port. */
export interface ClusterForControlPlane {
  api: FakeKubeApi;
  kubelet: FakeKubelet;
  kubeconfig: string;
  linkPort: number;
  close(): Promise<void>;
}

export async function clusterForControlPlane(): Promise<ClusterForControlPlane> {
  const root = mkdtempSync(join(tmpdir(), "outpost-k8s-cp-"));
  const api = await FakeKubeApi.start();
  api.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NAMESPACE } } as never);
  const kubelet = new FakeKubelet(api, { root: join(root, "node"), namespace: NAMESPACE, imageFiles: { "/opt/outpost": builtOutpostDir() } });
  kubelet.start();
  const kubeconfig = join(root, "kubeconfig");
  api.writeKubeconfig(kubeconfig, NAMESPACE);
  return {
    api,
    kubelet,
    kubeconfig,
    linkPort: await freePort(),
    async close() {
      await kubelet.stop();
      await api.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
