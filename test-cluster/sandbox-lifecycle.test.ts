// The Kubernetes end-to-end suite on a real cluster, run by scripts/test-kubernetes-cluster.sh
// (never by `npm test`: it needs a cluster, and test/drivers/kubernetes/ runs the same paths
// on the stand-in). A sandbox through the API: create → ready → exec → terminal → stop →
// start → delete, and what kubectl sees of it: its objects, hardening and NetworkPolicy.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { openTerminal } from "../test/helpers/terminal-socket.ts";

const url = process.env.OUTPOST_E2E_URL ?? "";
const token = process.env.OUTPOST_E2E_TOKEN ?? "";
const namespace = process.env.OUTPOST_E2E_NAMESPACE ?? "";
if (!url || !token || !namespace) throw new Error("run this through scripts/test-kubernetes-cluster.sh");
const server = { url, token };

/** What this suite reads of the API's answers (sandboxes, exec results). */
interface Answer {
  id: string;
  phase: string;
  error: unknown;
  stdout: string;
  placement: { namespace: string; pod: string };
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Answer }> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : {}) as Answer };
}

async function waitForPhase(id: string, phases: string[], timeoutMs = 600_000): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await api("GET", `/api/v1/sandboxes/${id}`);
    if (phases.includes(body.phase)) return body;
    if (Date.now() > deadline) throw new Error(`sandbox ${id} is ${body.phase}, not ${phases.join("|")}: ${JSON.stringify(body.error)}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const kubectl = (...args: string[]) => JSON.parse(execFileSync("kubectl", ["-n", namespace, ...args, "-o", "json"], { encoding: "utf8" }));

describe("a sandbox on a real cluster", () => {
  test("create → ready → exec → terminal → stop → start → delete, with its objects as documented", async () => {
    const name = `e2e${Date.now().toString(36)}`;
    assert.equal((await api("POST", "/api/v1/projects", { name })).status, 201);
    const created = await api("POST", `/api/v1/projects/${name}/sandboxes`);
    assert.equal(created.status, 201);
    const box = await waitForPhase(created.body.id, ["running", "failed"]);
    assert.equal(box.phase, "running", JSON.stringify(box.error));
    assert.equal(box.placement.namespace, namespace);

    const selector = `outpost.dev/sandbox=${box.id}`;
    const sets = kubectl("get", "statefulsets", "-l", selector);
    assert.equal(sets.items.length, 1, "one StatefulSet");
    const pod = kubectl("get", "pod", box.placement.pod);
    assert.equal(pod.spec.automountServiceAccountToken, false, "no API token in the pod");
    assert.equal(pod.spec.securityContext.runAsNonRoot, true, "non-root");
    const policies = kubectl("get", "networkpolicies", "-l", selector);
    assert.deepEqual(policies.items[0].spec.ingress, [], "no ingress");

    const ran = await api("POST", `/api/v1/sandboxes/${box.id}/exec`, { command: ["sh", "-c", "echo hello > kept.txt && cat kept.txt"] });
    assert.equal(ran.body.stdout, "hello\n");
    const blocked = await api("POST", `/api/v1/sandboxes/${box.id}/exec`, { command: ["sh", "-c", "getent hosts kubernetes.default.svc || echo no-dns"] });
    assert.match(blocked.body.stdout, /no-dns/, "no DNS from the sandbox");

    const term = await openTerminal(server, box.id, "new");
    term.type("echo from-the-terminal\r");
    await term.view.untilText(/^from-the-terminal$/m);
    term.close();

    assert.equal((await api("POST", `/api/v1/sandboxes/${box.id}/stop`)).status, 202);
    await waitForPhase(box.id, ["stopped"]);
    assert.equal(kubectl("get", "pods", "-l", selector).items.length, 0, "no pod while stopped");
    assert.equal(kubectl("get", "pvc", "-l", selector).items.length, 2, "the volumes stay");
    assert.equal((await api("POST", `/api/v1/sandboxes/${box.id}/start`)).status, 202);
    await waitForPhase(box.id, ["running"]);
    assert.equal((await api("POST", `/api/v1/sandboxes/${box.id}/exec`, { command: ["cat", "kept.txt"] })).body.stdout, "hello\n");

    assert.equal((await api("DELETE", `/api/v1/sandboxes/${box.id}`)).status, 202);
    await waitForPhase(box.id, ["deleted"]);
    for (const kind of ["statefulsets", "pods", "secrets", "configmaps", "networkpolicies", "pvc"]) {
      assert.equal(kubectl("get", kind, "-l", selector).items.length, 0, `no ${kind} left`);
    }
  });
});
