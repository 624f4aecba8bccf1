// Configuration of the Kubernetes driver: settings that are refused at start with the
// variable to fix, which cluster and namespace are used, the deterministic installation
// identity and the link tokens derived from it.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadSettings } from "../../../src/config/settings.ts";
import { StartupError } from "../../../src/domain/errors.ts";
import { loadClusterAccess } from "../../../src/drivers/kubernetes/kubeconfig.ts";
import { linkToken, linkTokenKey } from "../../../src/drivers/kubernetes/link-token.ts";

function kubeconfigFile(server: string, namespace?: string): string {
  const dir = mkdtempSync(join(tmpdir(), "outpost-kubeconfig-"));
  const path = join(dir, "config");
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server } }],
      users: [{ name: "u", user: { token: "t" } }],
      contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...(namespace ? { namespace } : {}) } }],
      "current-context": "ctx",
    }),
  );
  return path;
}

const base = { OUTPOST_DRIVER: "kubernetes", OUTPOST_KUBE_RUNTIME_IMAGE: "ghcr.io/example/runtime:1", OUTPOST_LINK_ADDRESS: "outpost-link.outpost.svc:7301" };

describe("Kubernetes settings", () => {
  test("defaults: link on 0.0.0.0:7301, 10Gi/1Gi volumes, 100m/256Mi requests, no user namespaces", () => {
    const settings = loadSettings({ ...base });
    assert.equal(settings.driver, "kubernetes");
    assert.equal(settings.kubernetes?.linkListen, "0.0.0.0:7301");
    assert.equal(settings.kubernetes?.workspaceSize, "10Gi");
    assert.equal(settings.kubernetes?.homeSize, "1Gi");
    assert.equal(settings.kubernetes?.cpuRequest, "100m");
    assert.equal(settings.kubernetes?.memoryRequest, "256Mi");
    assert.equal(settings.kubernetes?.userNamespaces, false);
    assert.equal(loadSettings({}).kubernetes, undefined, "the local driver reads none of them");
  });

  test("a missing or malformed setting stops the start, naming the variable to fix", () => {
    const cases: [Record<string, string>, string][] = [
      [{ OUTPOST_DRIVER: "kubernetes", OUTPOST_LINK_ADDRESS: "a:1" }, "OUTPOST_KUBE_RUNTIME_IMAGE"],
      [{ OUTPOST_DRIVER: "kubernetes", OUTPOST_KUBE_RUNTIME_IMAGE: "x" }, "OUTPOST_LINK_ADDRESS"],
      [{ ...base, OUTPOST_KUBE_WORKSPACE_SIZE: "ten gigs" }, "OUTPOST_KUBE_WORKSPACE_SIZE"],
      [{ ...base, OUTPOST_KUBE_NAMESPACE: "Not_A_Label" }, "OUTPOST_KUBE_NAMESPACE"],
      [{ ...base, OUTPOST_LINK_ADDRESS: "no-port" }, "OUTPOST_LINK_ADDRESS"],
      [{ ...base, OUTPOST_KUBE_USER_NAMESPACES: "yes" }, "OUTPOST_KUBE_USER_NAMESPACES"],
      [{ OUTPOST_DRIVER: "docker" }, "OUTPOST_DRIVER"],
    ];
    for (const [env, variable] of cases) {
      assert.throws(
        () => loadSettings(env),
        (error) => error instanceof StartupError && error.fix?.includes(variable) === true,
        `${JSON.stringify(env)} names ${variable}`,
      );
    }
  });
});

describe("cluster access", () => {
  const settings = (extra: Record<string, string>) => {
    const loaded = loadSettings({ ...base, ...extra });
    assert.ok(loaded.kubernetes, "kubernetes settings are read");
    return loaded.kubernetes;
  };

  test("KUBECONFIG's cluster and its context's namespace; OUTPOST_KUBE_NAMESPACE wins", () => {
    const path = kubeconfigFile("https://k8s.example.test:6443", "team-a");
    const access = loadClusterAccess(settings({ KUBECONFIG: path }));
    assert.equal(access.server, "https://k8s.example.test:6443");
    assert.equal(access.namespace, "team-a");
    assert.equal(access.inCluster, false);
    assert.equal(loadClusterAccess(settings({ KUBECONFIG: path, OUTPOST_KUBE_NAMESPACE: "other" })).namespace, "other");
    assert.equal(loadClusterAccess(settings({ KUBECONFIG: kubeconfigFile("https://k8s.example.test") })).namespace, "default");
  });

  test("in a pod, a kubeconfig pointing at localhost is refused with the fix", () => {
    for (const server of ["https://127.0.0.1:6443", "https://localhost:6443", "https://[::1]:6443"]) {
      assert.throws(
        () => loadClusterAccess(settings({ KUBECONFIG: kubeconfigFile(server), KUBERNETES_SERVICE_HOST: "10.96.0.1" })),
        (error) => error instanceof StartupError && /localhost is not the API server/.test(error.message) && /unset KUBECONFIG/.test(error.fix ?? ""),
        server,
      );
    }
    // Outside a cluster the same file is fine (a local kind or minikube).
    assert.equal(loadClusterAccess(settings({ KUBECONFIG: kubeconfigFile("https://127.0.0.1:6443") })).server, "https://127.0.0.1:6443");
  });

  test("an unreadable kubeconfig is a start-up error naming KUBECONFIG, not a stack trace", () => {
    assert.throws(
      () => loadClusterAccess(settings({ KUBECONFIG: "/nonexistent/kubeconfig" })),
      (error) => error instanceof StartupError && /KUBECONFIG/.test(error.fix ?? ""),
    );
  });
});

describe("link tokens", () => {
  test("derived per sandbox and installation: stable across control planes, different for every other sandbox or installation", () => {
    const secret = Buffer.alloc(32, 7);
    const key = linkTokenKey(secret, "prod");
    assert.equal(linkToken(key, "sbx_a"), linkToken(linkTokenKey(Buffer.alloc(32, 7), "prod"), "sbx_a"), "another replica derives the same");
    assert.notEqual(linkToken(key, "sbx_a"), linkToken(key, "sbx_b"));
    assert.notEqual(linkToken(key, "sbx_a"), linkToken(linkTokenKey(secret, "staging"), "sbx_a"));
    assert.notEqual(linkToken(key, "sbx_a"), linkToken(linkTokenKey(Buffer.alloc(32, 8), "prod"), "sbx_a"));
    assert.match(linkToken(key, "sbx_a"), /^[A-Za-z0-9_-]{43}$/);
  });
});
