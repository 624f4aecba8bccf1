// The whole control plane with OUTPOST_DRIVER=kubernetes, through its own API: the
// Kubernetes driver talks to the stand-in API server with the real client, the simulated
// kubelet runs the pods with the real supervisor, which dials the control plane's TLS link.
// create → ready → exec → terminal → the way out through the link → stop → start → delete.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hostRequest, openPreview, serve } from "../../helpers/previews.ts";
import { exec, runningSandbox, waitForPhase } from "../../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../../helpers/server.ts";
import { openTerminal } from "../../helpers/terminal-socket.ts";
import type { FakeKubeApi } from "../../kube/fake-api-server.ts";
import { type ClusterForControlPlane, clusterForControlPlane, NAMESPACE } from "./cluster.ts";

describe("the control plane on Kubernetes", { timeout: 170_000 }, () => {
  let cluster: ClusterForControlPlane;
  let kube: FakeKubeApi;
  let s: TestServer;
  before(async () => {
    cluster = await clusterForControlPlane();
    kube = cluster.api;
    const { kubeconfig, linkPort: port } = cluster;
    s = await startTestServer("external", {
      driver: "kubernetes",
      kubernetes: {
        kubeconfig,
        runtimeImage: "outpost-runtime:test",
        linkListen: `127.0.0.1:${port}`,
        linkAddress: `127.0.0.1:${port}`,
        controlPlaneLabels: "app.kubernetes.io/name=outpost",
        controlPlaneCidr: "127.0.0.1/32",
        installation: "e2e",
        workspaceSize: "1Gi",
        homeSize: "1Gi",
        cpuRequest: "100m",
        memoryRequest: "256Mi",
        userNamespaces: false,
        workload: "statefulset",
      },
    });
  });
  after(async () => {
    await s?.close();
    await cluster?.close();
  });

  test("a sandbox is a StatefulSet whose pod runs the supervisor: exec, terminal, a preview and the ssh agent work through the link", async () => {
    await api(s, "POST", "/api/v1/projects", { body: { name: "kube", env: { GREETING: "from-the-project" } } });
    const box = await runningSandbox(s, "kube");
    assert.equal(box.driver, "kubernetes");
    assert.deepEqual(
      box.stages.map((stage: { name: string }) => stage.name).filter((name: string) => ["volumes", "pod scheduled", "init", "supervisor"].includes(name)),
      ["volumes", "pod scheduled", "init", "supervisor"],
    );
    const sets = kube.list("statefulsets.apps", NAMESPACE);
    assert.equal(sets.length, 1);
    assert.equal((sets[0]?.metadata.labels as Record<string, string>)["outpost.dev/sandbox"], box.id);
    assert.equal((sets[0]?.metadata.labels as Record<string, string>)["outpost.dev/installation"], "e2e");
    assert.equal(box.placement.namespace, NAMESPACE);
    assert.match(box.placement.pod, /-0$/);
    assert.equal(box.placement.node, "fake-node");

    const ran = await exec(s, box.id, ["sh", "-c", 'echo "$GREETING in $(pwd)" && echo kept > kept.txt']);
    assert.equal(ran.stdout, "from-the-project in /workspace\n");
    assert.equal(ran.exitCode, 0);

    const term = await openTerminal(s, box.id, "new", { cols: 80, rows: 24 });
    term.type("echo hi-from-the-pod\r");
    await term.view.untilText(/^hi-from-the-pod$/m);
    term.close();

    // The way out goes through the link endpoint: the ssh agent at SSH_AUTH_SOCK (a socket
    // the supervisor serves in the pod's own /run/outpost) answers from the control plane.
    // (The TCP bridges, 127.0.0.1:3128 and the rest, are the same code; the stand-in kubelet
    // shares the host's network between pods, so a fixed port is not the pod's own here.)
    const agent = await exec(s, box.id, ["sh", "-c", "SSH_AUTH_SOCK=/run/outpost/ssh-agent.sock ssh-add -l; echo exit=$?"]);
    assert.match(agent.stdout, /no identities[\s\S]*exit=1/, `stderr: ${agent.stderr}`);

    // A preview: an app in the pod, reached through the control plane's preview proxy and
    // the link's tunnel (a port of its own: the stand-in's pods share the host's network).
    const port = 40_000 + Math.floor(Math.random() * 20_000);
    await serve(s, box.id, ["python3", "-m", "http.server", String(port), "--bind", "127.0.0.1"], port);
    const preview = await openPreview(s, box, port);
    const page = await hostRequest(s.url, { host: preview.host, path: "/kept.txt", headers: { cookie: preview.cookie } });
    assert.equal(page.status, 200);
    assert.equal(page.text, "kept\n");

    // stop: the set scales to 0, the pod goes, the volumes stay; start finds the file again.
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/stop`)).status, 202);
    await waitForPhase(s, box.id, ["stopped"]);
    assert.equal(kube.list("pods", NAMESPACE).length, 0);
    assert.equal(kube.list("persistentvolumeclaims", NAMESPACE).length, 2);
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/start`)).status, 202);
    await waitForPhase(s, box.id, ["running"]);
    assert.equal((await exec(s, box.id, ["cat", "kept.txt"])).stdout, "kept\n");

    // delete: the set, its pod, Secret, ConfigMap, NetworkPolicy and volumes all go.
    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${box.id}`)).status, 202);
    await waitForPhase(s, box.id, ["deleted"]);
    for (const key of ["statefulsets.apps", "pods", "secrets", "configmaps", "networkpolicies.networking.k8s.io", "persistentvolumeclaims"]) {
      assert.deepEqual(
        kube.list(key, NAMESPACE).map((o) => o.metadata.name),
        [],
        `no ${key} left`,
      );
    }
  });
});
