// The simulated cluster behaves as a real one does for what the Kubernetes driver relies on:
// StatefulSet pods really run (bubblewrap) with their claim, secret and env, scaling stops
// and restarts them with the files kept, crashes and image pull failures show in the pod
// status as a node reports them, and deleting the set takes pod, claim and folder with it.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FakeKubeApi, type KubeObject } from "./fake-api-server.ts";
import { isAlive } from "./fake-cluster/proc-tree.ts";
import { FakeKubelet } from "./fake-kubelet.ts";

const NS = "kubelet-test";
const IMAGE = "registry.example/web:1";

let api: FakeKubeApi;
let kubelet: FakeKubelet;
let root: string;

/** Resolves with the first truthy answer of `probe`, checked now and after every change in the
 *  store; when the test is cancelled (its timeout), rejects saying what never came. */
function waitFor<T>(signal: AbortSignal, what: string, probe: () => T | undefined | null | false): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const answer = probe();
      if (!answer) return false;
      stop();
      resolve(answer);
      return true;
    };
    const onAbort = () => {
      stop();
      reject(new Error(`gave up waiting for ${what}; kubelet log:\n${kubelet.log.slice(-20).join("\n")}`));
    };
    const unsubscribe = api.onChange(() => check());
    const stop = () => {
      unsubscribe();
      signal.removeEventListener("abort", onAbort);
    };
    signal.addEventListener("abort", onAbort);
    check();
  });
}

/** Resolves once `path` holds exactly `content` (the container writes it; fs.watch tells us). */
function waitForFile(signal: AbortSignal, path: string, content: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const read = () => (existsSync(path) ? readFileSync(path, "utf8") : undefined);
    const watcher = watch(dirname(path), () => {
      if (read() === content) done();
    });
    const onAbort = () => {
      watcher.close();
      reject(new Error(`${path} never held ${JSON.stringify(content)} (it holds ${JSON.stringify(read())})`));
    };
    const done = () => {
      watcher.close();
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    signal.addEventListener("abort", onAbort);
    if (read() === content) done();
  });
}

const pod = (name: string) => api.get("pods", NS, name) as any;
const mainStatus = (name: string) => pod(name)?.status?.containerStatuses?.[0];
const isReady = (name: string) =>
  pod(name)?.status?.phase === "Running" && pod(name).status.conditions.some((c: any) => c.type === "Ready" && c.status === "True");

function setReplicas(name: string, replicas: number): void {
  const set = api.get("statefulsets.apps", NS, name)!;
  api.replace("statefulsets.apps", { ...set, spec: { ...(set["spec"] as object), replicas } });
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), "fake-kubelet-"));
  const image = join(root, "image");
  mkdirSync(image);
  // The "image": a start script at /opt/web, where the host has nothing.
  writeFileSync(
    join(image, "start.sh"),
    [
      "if [ -f /data/x ]; then cp /data/x /data/found; fi",
      "echo hi > /data/x",
      "cat /etc/web-secret/token > /data/secret-file",
      'echo "$TOKEN $HOSTNAME $(pwd)" > /data/env',
      "exec sleep 600",
    ].join("\n"),
  );
  api = await FakeKubeApi.start();
  api.create("namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } as KubeObject["metadata"] });
  kubelet = new FakeKubelet(api, { root: join(root, "cluster"), namespace: NS, imageFiles: { "/opt/web": image } });
  kubelet.start();
});

after(async () => {
  await kubelet.stop();
  await api.close();
  rmSync(root, { recursive: true, force: true });
});

describe("a StatefulSet with a claim, a secret volume and a secret env", () => {
  it("runs its pod: Running and Ready, with the claim, the secret and the env inside", async (t) => {
    api.create("secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "web-secret", namespace: NS } as KubeObject["metadata"],
      data: { token: Buffer.from("s3cret").toString("base64") },
    });
    const set = api.create("statefulsets.apps", {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "web", namespace: NS } as KubeObject["metadata"],
      spec: {
        replicas: 1,
        serviceName: "web",
        selector: { matchLabels: { app: "web" } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: "Delete", whenScaled: "Retain" },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [
              {
                name: "main",
                image: IMAGE,
                command: ["sh", "/opt/web/start.sh"],
                workingDir: "/workspace/app",
                env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "web-secret", key: "token" } } }],
                volumeMounts: [
                  { name: "data", mountPath: "/data" },
                  { name: "secret", mountPath: "/etc/web-secret", readOnly: true },
                ],
              },
            ],
            volumes: [{ name: "secret", secret: { secretName: "web-secret" } }],
          },
        },
        volumeClaimTemplates: [
          { metadata: { name: "data", labels: { tier: "storage" } }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } },
        ],
      },
    });

    await waitFor(t.signal, "pod web-0 Running and Ready", () => isReady("web-0"));
    const running = pod("web-0");
    assert.equal(running.metadata.labels["statefulset.kubernetes.io/pod-name"], "web-0");
    assert.equal(running.metadata.labels.app, "web");
    assert.deepEqual(
      running.metadata.ownerReferences.map((ref: any) => [ref.kind, ref.uid, ref.controller]),
      [["StatefulSet", set.metadata.uid, true]],
    );
    assert.equal(running.spec.hostname, "web-0");
    assert.equal(running.spec.nodeName, "fake-node");
    assert.ok(running.metadata.finalizers.includes("fake-kubelet/running"));
    assert.equal(mainStatus("web-0").restartCount, 0);

    const claim = api.get("persistentvolumeclaims", NS, "data-web-0") as any;
    assert.equal(claim.status.phase, "Bound");
    assert.equal(claim.metadata.labels.tier, "storage");
    assert.deepEqual(
      claim.metadata.ownerReferences.map((ref: any) => ref.uid),
      [set.metadata.uid],
    );
    const folder = kubelet.volumeDir("data-web-0");
    await waitForFile(t.signal, join(folder, "env"), "s3cret web-0 /workspace/app\n");
    assert.equal(readFileSync(join(folder, "x"), "utf8"), "hi\n");
    assert.equal(readFileSync(join(folder, "secret-file"), "utf8"), "s3cret");
    const pids = kubelet.containerPids("web-0");
    assert.ok(pids.length > 0 && pids.every(isAlive));
    await waitFor(t.signal, "set status readyReplicas 1", () => (api.get("statefulsets.apps", NS, "web") as any).status?.readyReplicas === 1);
  });

  it("scaled to 0, ends the container's processes and keeps the claim and its files", async (t) => {
    const pids = kubelet.containerPids("web-0");
    assert.ok(pids.length > 0);
    setReplicas("web", 0);
    await waitFor(t.signal, "pod web-0 gone", () => !pod("web-0"));
    assert.deepEqual(pids.filter(isAlive), []);
    assert.ok(api.get("persistentvolumeclaims", NS, "data-web-0"));
    assert.equal(readFileSync(join(kubelet.volumeDir("data-web-0"), "x"), "utf8"), "hi\n");
    await waitFor(t.signal, "set status replicas 0", () => (api.get("statefulsets.apps", NS, "web") as any).status?.replicas === 0);
  });

  it("scaled to 1 again, runs a new pod that finds the files of the first", async (t) => {
    setReplicas("web", 1);
    await waitFor(t.signal, "pod web-0 Ready again", () => isReady("web-0"));
    await waitForFile(t.signal, join(kubelet.volumeDir("data-web-0"), "found"), "hi\n");
  });

  it("reports a crash (Error, exit 137) and restarts the container", async (t) => {
    const before = kubelet.containerPids("web-0");
    await kubelet.crash("web-0");
    assert.deepEqual(before.filter(isAlive), []);
    const status = await waitFor(t.signal, "web-0 restarted once", () => {
      const main = mainStatus("web-0");
      return main?.restartCount === 1 && main.state.running && isReady("web-0") && main;
    });
    assert.equal(status.lastState.terminated.reason, "Error");
    assert.equal(status.lastState.terminated.exitCode, 137);
    assert.ok(kubelet.containerPids("web-0").every((pid) => !before.includes(pid)));
  });

  it("reports an OOM kill as OOMKilled and restarts again", async (t) => {
    await kubelet.crash("web-0", { oom: true });
    const status = await waitFor(t.signal, "web-0 restarted twice", () => {
      const main = mainStatus("web-0");
      return main?.restartCount === 2 && main.state.running && main;
    });
    assert.equal(status.lastState.terminated.reason, "OOMKilled");
  });

  it("waits in ImagePullBackOff while its image cannot be pulled, and runs once it can", async (t) => {
    kubelet.failImagePull(IMAGE);
    await kubelet.crash("web-0");
    await waitFor(t.signal, "web-0 in ImagePullBackOff", () => mainStatus("web-0")?.state.waiting?.reason === "ImagePullBackOff");
    assert.equal(isReady("web-0"), false);
    assert.deepEqual(kubelet.containerPids("web-0"), []);
    kubelet.failImagePull(null);
    await waitFor(t.signal, "web-0 Ready after the pull works", () => isReady("web-0"));
  });

  it("deleted (whenDeleted: Delete), takes its pod, claim and folder with it", async (t) => {
    const pids = kubelet.containerPids("web-0");
    const folder = kubelet.volumeDir("data-web-0");
    api.remove("statefulsets.apps", NS, "web");
    await waitFor(t.signal, "pod and claim gone", () => !pod("web-0") && !api.get("persistentvolumeclaims", NS, "data-web-0"));
    assert.deepEqual(pids.filter(isAlive), []);
    assert.equal(existsSync(folder), false);
  });
});

function createPod(name: string, spec: object): void {
  api.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name, namespace: NS } as KubeObject["metadata"], spec });
}

describe("pods on their own", () => {
  it("stay Pending as Unschedulable, with an Event, while scheduling fails; then run", async (t) => {
    const message = "0/1 nodes are available: 1 Insufficient cpu.";
    kubelet.failScheduling(message);
    createPod("lonely", { terminationGracePeriodSeconds: 1, containers: [{ name: "main", image: IMAGE, command: ["sleep", "600"] }] });
    const condition = await waitFor(t.signal, "PodScheduled False", () =>
      pod("lonely")?.status?.conditions?.find((c: any) => c.type === "PodScheduled" && c.status === "False"),
    );
    assert.equal(condition.reason, "Unschedulable");
    assert.equal(condition.message, message);
    assert.equal(pod("lonely").status.phase, "Pending");
    const events = api.list("events", NS).filter((event: any) => event.involvedObject.name === "lonely");
    assert.deepEqual(
      events.map((event: any) => [event.reason, event.message]),
      [["FailedScheduling", message]],
    );
    kubelet.failScheduling(null);
    await waitFor(t.signal, "lonely Ready", () => isReady("lonely"));
    api.remove("pods", NS, "lonely");
    await waitFor(t.signal, "lonely gone", () => !pod("lonely"));
  });

  it("run init containers in order to completion, retrying a failing one, before the containers", async (t) => {
    createPod("initialized", {
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: "work", emptyDir: {} }],
      initContainers: [
        { name: "first", image: IMAGE, command: ["sh", "-c", "echo first >> /work/order"], volumeMounts: [{ name: "work", mountPath: "/work" }] },
        {
          name: "second",
          image: IMAGE,
          command: ["sh", "-c", "if [ -f /work/tried ]; then echo second >> /work/order; else touch /work/tried; exit 3; fi"],
          volumeMounts: [{ name: "work", mountPath: "/work" }],
        },
      ],
      containers: [
        { name: "main", image: IMAGE, command: ["sh", "-c", "cat /work/order; exec sleep 600"], volumeMounts: [{ name: "work", mountPath: "/work" }] },
      ],
    });
    await waitFor(t.signal, "initialized Ready", () => isReady("initialized"));
    const [first, second] = pod("initialized").status.initContainerStatuses;
    assert.deepEqual([first.state.terminated.reason, first.restartCount], ["Completed", 0]);
    assert.deepEqual([second.state.terminated.reason, second.restartCount], ["Completed", 1]);
    assert.deepEqual([second.lastState.terminated.reason, second.lastState.terminated.exitCode], ["Error", 3]);
    await waitForFile(t.signal, kubelet.logPath("initialized", "main"), "first\nsecond\n");
    api.remove("pods", NS, "initialized");
    await waitFor(t.signal, "initialized gone", () => !pod("initialized"));
  });

  it("run as securityContext.runAsUser, with a claim it can write to", async (t) => {
    api.create("persistentvolumeclaims", {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "scratch", namespace: NS } as KubeObject["metadata"],
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } },
    });
    createPod("unprivileged", {
      terminationGracePeriodSeconds: 1,
      securityContext: { runAsUser: 1234, runAsGroup: 1234 },
      volumes: [{ name: "scratch", persistentVolumeClaim: { claimName: "scratch" } }],
      containers: [
        {
          name: "main",
          image: IMAGE,
          command: ["sh", "-c", "id -u > /home/me/uid; exec sleep 600"],
          volumeMounts: [{ name: "scratch", mountPath: "/home/me" }],
        },
      ],
    });
    await waitFor(t.signal, "unprivileged Ready", () => isReady("unprivileged"));
    await waitForFile(t.signal, join(kubelet.volumeDir("scratch"), "uid"), "1234\n");
    api.remove("pods", NS, "unprivileged");
    await waitFor(t.signal, "unprivileged gone", () => !pod("unprivileged"));
    api.remove("persistentvolumeclaims", NS, "scratch");
    await waitFor(t.signal, "claim scratch gone", () => !api.get("persistentvolumeclaims", NS, "scratch"));
    assert.equal(existsSync(kubelet.volumeDir("scratch")), false);
  });
});

describe("an agent-sandbox Sandbox", () => {
  const sandbox = () => api.get("sandboxes.agents.x-k8s.io", NS, "box") as any;

  it("runs one pod named like it, with its claim, and suspends to 0 keeping the claim", async (t) => {
    const created = api.create("sandboxes.agents.x-k8s.io", {
      apiVersion: "agents.x-k8s.io/v1beta1",
      kind: "Sandbox",
      metadata: { name: "box", namespace: NS } as KubeObject["metadata"],
      spec: {
        operatingMode: "Running",
        podTemplate: {
          metadata: { labels: { app: "box" } },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: "main",
                image: IMAGE,
                command: ["sh", "-c", "echo $HOSTNAME > /workspace/name; exec sleep 600"],
                volumeMounts: [{ name: "workspace", mountPath: "/workspace" }],
              },
            ],
          },
        },
        volumeClaimTemplates: [{ metadata: { name: "workspace" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } }],
      },
    });
    await waitFor(t.signal, "box Ready", () => isReady("box") && sandbox().status?.conditions?.[0]?.status === "True");
    assert.equal(pod("box").metadata.ownerReferences[0].uid, created.metadata.uid);
    assert.equal(sandbox().status.replicas, 1);
    await waitForFile(t.signal, join(kubelet.volumeDir("workspace-box"), "name"), "box\n");

    const suspended = sandbox();
    api.replace("sandboxes.agents.x-k8s.io", { ...suspended, spec: { ...suspended.spec, operatingMode: "Suspended" } });
    await waitFor(t.signal, "box suspended", () => !pod("box") && sandbox().status?.replicas === 0);
    assert.ok(api.get("persistentvolumeclaims", NS, "workspace-box"));

    api.remove("sandboxes.agents.x-k8s.io", NS, "box");
    await waitFor(t.signal, "the claim gone with the Sandbox", () => !api.get("persistentvolumeclaims", NS, "workspace-box"));
    assert.equal(existsSync(kubelet.volumeDir("workspace-box")), false);
  });
});
