// The Kubernetes driver keeps working when the control plane or the API server does not:
// a control plane started again (another process, another pod name) adopts what runs by
// its labels, writing nothing and deleting no volume; API errors are retried or surfaced,
// and a failed ensure leaves nothing the next one cannot finish; a watch that drops or
// expires is picked up again; creating a sandbox takes at most 12 requests and sandboxes
// at rest take none.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { EnsureOptions } from "../../../src/drivers/driver.ts";
import { isDriverError } from "../../../src/drivers/errors.ts";
import { podName } from "../../../src/drivers/kubernetes/names.ts";
import { shIn } from "../helpers.ts";
import { inspectOnceSeen, NAMESPACE, testCluster } from "./cluster.ts";

const ensureOptions = (): EnsureOptions => ({ onStage: () => {}, signal: AbortSignal.timeout(90_000) });
const stopOptions = () => ({ signal: AbortSignal.timeout(60_000), graceMs: 2000 });
let counter = 0;
const specFor = (name: string) => ({ sandboxId: `sbx_k${process.pid}_${++counter}`, name });
const writes = (requests: { method: string; watch: boolean }[]) => requests.filter((r) => !r.watch && r.method !== "GET");

describe("the Kubernetes driver across restarts and API failures", () => {
  test("a control plane started again adopts a running sandbox: same processes, no writes, no duplicate objects, volumes kept", async (t) => {
    const cluster = await testCluster(t);
    const first = cluster.makeDriver();
    const spec = specFor("adopt");
    const handle = await first.ensure(spec, ensureOptions());
    await shIn(handle, "echo kept > kept.txt");
    const sleeper = await handle.link.client.startProcess({ command: ["sleep", "600"], name: "sleeper" });
    const claimsBefore = cluster.api.list("persistentvolumeclaims", NAMESPACE).map((c) => c.metadata.uid);
    await first.close();

    cluster.api.resetRequests();
    const second = cluster.makeDriver();
    await second.start();
    const adopted = await second.ensure(spec, ensureOptions());
    assert.equal(adopted.outcome, "adopted");
    assert.equal((await adopted.link.client.getProcess(sleeper.id)).status, "running");
    assert.equal((await shIn(adopted, "cat kept.txt")).stdout, "kept\n");
    assert.deepEqual(writes(cluster.api.requests), [], "adoption writes nothing");
    assert.deepEqual(await second.list(), [spec.sandboxId]);
    assert.equal(cluster.api.list("statefulsets.apps", NAMESPACE).length, 1);
    assert.equal(cluster.api.list("pods", NAMESPACE).length, 1);
    assert.deepEqual(
      cluster.api.list("persistentvolumeclaims", NAMESPACE).map((c) => c.metadata.uid),
      claimsBefore,
      "the same volumes, none deleted or made again",
    );
  });

  test("a control plane whose first lists fail waits for them, then adopts: never an empty view taken for 'no sandboxes'", async (t) => {
    const cluster = await testCluster(t);
    const first = cluster.makeDriver();
    const spec = specFor("late-list");
    const sleeper = await (await first.ensure(spec, ensureOptions())).link.client.startProcess({ command: ["sleep", "600"] });
    await first.close();

    cluster.api.fail({ method: "GET", pathIncludes: "/statefulsets", status: 500, count: 2 });
    cluster.api.resetRequests();
    const second = cluster.makeDriver();
    await second.start();
    assert.deepEqual(await second.list(), [spec.sandboxId], "list waited for a list that worked");
    const adopted = await second.ensure(spec, ensureOptions());
    assert.equal(adopted.outcome, "adopted");
    assert.equal((await adopted.link.client.getProcess(sleeper.id)).status, "running", "the sandbox was not scaled down and up");
    assert.deepEqual(writes(cluster.api.requests), [], "nothing written");
  });

  test("an API server that cannot be reached: the banner's check says so, and operations fail naming it", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    cluster.api.fail({ method: "GET", pathIncludes: "/statefulsets", status: 503, count: 1000 });
    const answer = await driver.reachable(1000);
    assert.equal(answer.ok, false);
    assert.match(answer.ok ? "" : answer.problem, /Kubernetes API server cannot be read \(HTTP 503\)/);
  });

  test("API server errors are retried: ensure succeeds through 500s and 503s", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    cluster.api.fail({ method: "PATCH", status: 500, count: 2 });
    cluster.api.fail({ method: "PATCH", status: 503, count: 1 });
    const handle = await driver.ensure(specFor("retry"), ensureOptions());
    assert.equal((await shIn(handle, "echo ok")).stdout, "ok\n");
    assert.ok(cluster.api.requests.filter((r) => r.status >= 500).length >= 3, "the failures did happen");
  });

  test("an API server that keeps failing makes ensure fail with its message; the next ensure finishes the sandbox", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    const spec = specFor("halfway");
    // As many failures as the driver makes attempts (api-calls.ts): this ensure gives up.
    cluster.api.fail({ method: "PATCH", pathIncludes: "/secrets/", status: 500, count: 5 });
    await assert.rejects(driver.ensure(spec, ensureOptions()), (error: Error) => /HTTP 500/.test(error.message));
    const handle = await driver.ensure(spec, ensureOptions());
    assert.equal((await shIn(handle, "echo finished")).stdout, "finished\n");
    assert.equal(cluster.api.list("statefulsets.apps", NAMESPACE).length, 1);
  });

  test("a call that hangs is given up at its deadline and tried again", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver({ callTimeoutMs: 1000 });
    await driver.start();
    cluster.api.fail({ method: "PATCH", pathIncludes: "/configmaps/", hang: true, count: 1 });
    const handle = await driver.ensure(specFor("hang"), ensureOptions());
    assert.equal((await shIn(handle, "echo through")).stdout, "through\n");
  });

  test("a 409 is surfaced, not retried, and leaves nothing the next ensure cannot finish", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    const spec = specFor("conflict");
    cluster.api.fail({ method: "PATCH", pathIncludes: "/networkpolicies/", status: 409, count: 1 });
    await assert.rejects(driver.ensure(spec, ensureOptions()), (error: Error) => /HTTP 409/.test(error.message));
    const handle = await driver.ensure(spec, ensureOptions());
    assert.equal((await shIn(handle, "echo finished")).stdout, "finished\n");
    assert.equal(cluster.api.list("networkpolicies.networking.k8s.io", NAMESPACE).length, 1);
  });

  test("a 403 (a Role without a verb) is not retried and says so", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    cluster.api.resetRequests();
    cluster.api.fail({ method: "PATCH", pathIncludes: "/statefulsets/", status: 403, count: 100 });
    await assert.rejects(driver.ensure(specFor("forbidden"), ensureOptions()), (error: Error) => /HTTP 403/.test(error.message));
    assert.equal(cluster.api.requests.filter((r) => r.status === 403).length, 1);
  });

  test("dropped and expired watches are picked up again: the driver still sees pods come and go", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    const spec = specFor("watch");
    await driver.ensure(spec, ensureOptions());
    cluster.api.dropWatches();
    cluster.api.compact();
    await driver.stop(spec.sandboxId, stopOptions());
    assert.equal((await driver.inspect(spec.sandboxId)).state, "stopped");
    cluster.api.dropWatches();
    const again = await driver.ensure(spec, ensureOptions());
    assert.equal(again.outcome, "started");
    assert.equal((await driver.inspect(spec.sandboxId)).state, "running");
  });

  test("create takes at most 12 API requests; sandboxes at rest take none", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    // The client's discovery of each kind happens once per process, not per sandbox.
    await driver.ensure(specFor("warm-up"), ensureOptions());
    cluster.api.resetRequests();
    const spec = specFor("counted");
    await driver.ensure(spec, ensureOptions());
    const made = cluster.api.requests.filter((r) => !r.watch);
    assert.ok(made.length <= 12, `create took ${made.length} requests: ${made.map((r) => `${r.method} ${r.path}`).join(", ")}`);

    cluster.api.resetRequests();
    for (let i = 0; i < 3; i++) {
      assert.equal((await driver.inspect(spec.sandboxId)).state, "running");
      assert.equal((await driver.list()).length, 2);
    }
    await driver.ensure(spec, ensureOptions());
    assert.deepEqual(
      cluster.api.requests.filter((r) => !r.watch),
      [],
      "inspect, list and adopt read the watches' memory",
    );
  });

  test("a pod that cannot start fails ensure with the cluster's reason and a hint", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver({ readyTimeoutMs: 5000 });
    await driver.start();
    cluster.kubelet.failImagePull("outpost-runtime:test");
    await assert.rejects(
      driver.ensure(specFor("nopull"), ensureOptions()),
      (error) =>
        isDriverError(error, "SANDBOX_START_FAILED") && /ImagePullBackOff|ErrImagePull/.test(error.message) && /OUTPOST_KUBE_RUNTIME_IMAGE/.test(error.message),
    );
    cluster.kubelet.failImagePull(null);
    cluster.kubelet.failScheduling("0/3 nodes are available: 3 Insufficient memory.");
    const notes: string[] = [];
    const watching: EnsureOptions = { onStage: (stage, _state, message) => message && notes.push(`${stage}: ${message}`), signal: AbortSignal.timeout(90_000) };
    await assert.rejects(
      driver.ensure(specFor("nofit"), watching),
      (error) => isDriverError(error, "SANDBOX_START_FAILED") && /Unschedulable/.test(error.message) && /Insufficient memory/.test(error.message),
    );
    assert.ok(
      notes.some((note) => /^pod scheduled: Unschedulable: .*Insufficient memory/.test(note)),
      `while it waited, the stage said why: ${JSON.stringify(notes)}`,
    );
  });

  test("a project's environment image is not used on Kubernetes yet, and the volumes stage says so", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    const notes: string[] = [];
    const options: EnsureOptions = { onStage: (stage, _state, message) => message && notes.push(`${stage}: ${message}`), signal: AbortSignal.timeout(90_000) };
    const handle = await driver.ensure({ ...specFor("env"), image: { id: "env_abc@1234", layers: ["/var/lib/outpost-test/none"] } }, options);
    assert.equal((await shIn(handle, "echo runs")).stdout, "runs\n");
    assert.ok(
      notes.some((note) => note === "volumes: the environment's image env_abc@1234 is not used on Kubernetes yet: the sandbox runs outpost-runtime:test"),
      JSON.stringify(notes),
    );
  });

  test("a sandbox killed for memory says so in inspect", async (t) => {
    const cluster = await testCluster(t);
    const driver = cluster.makeDriver();
    await driver.start();
    const spec = specFor("oom");
    await driver.ensure(spec, ensureOptions());
    await cluster.kubelet.crash(podName(spec.sandboxId), { oom: true });
    const inspection = await inspectOnceSeen(driver, spec.sandboxId, (seen) => seen.lastExit !== undefined);
    assert.equal(inspection.state, "stopped");
    assert.equal(inspection.lastExit?.oomKilled, true);
  });
});
