// The stand-in Kubernetes API server, checked through the real @kubernetes/client-node: if
// these pass, the driver's tests exercise the client the way a real cluster would.
import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  type V1ConfigMap,
  type V1StatefulSet,
  Watch,
} from "@kubernetes/client-node";
import { FakeKubeApi, type KubeObject } from "./fake-api-server.ts";

const namespace = "default";
let api: FakeKubeApi;
let config: KubeConfig;
let core: CoreV1Api;
let apps: AppsV1Api;

beforeEach(async () => {
  api = await FakeKubeApi.start();
  config = api.kubeConfig(namespace);
  core = config.makeApiClient(CoreV1Api);
  apps = config.makeApiClient(AppsV1Api);
});
afterEach(() => api.close());

/** The Status a failed call got, as the client hands it over (a JSON string). */
async function failure(call: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  const error = await call.then(
    () => assert.fail("the call succeeded"),
    (caught: { code: number; body: unknown }) => caught,
  );
  const status = typeof error.body === "string" ? JSON.parse(error.body) : error.body;
  assert.equal(status.code, error.code);
  return status;
}

function configMap(name: string, labels: Record<string, string> = {}, extra: Partial<V1ConfigMap> = {}): V1ConfigMap {
  return { metadata: { name, labels }, data: { greeting: "hello" }, ...extra };
}

function statefulSet(name: string, replicas = 1, image = "busybox"): V1StatefulSet {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace, labels: { app: name } },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "main", image }] } },
    },
  };
}

/** Events a watch or informer delivered, and a way to await the one a test expects. */
function eventLog() {
  const events: { type: string; name: string; object: any }[] = [];
  const waiters: { until: () => boolean; resolve: () => void }[] = [];
  return {
    events,
    push(type: string, object: any) {
      events.push({ type, name: object?.metadata?.name, object });
      for (const waiter of [...waiters]) if (waiter.until()) waiter.resolve();
    },
    until(predicate: (seen: typeof events) => boolean): Promise<void> {
      return new Promise((resolve) => {
        if (predicate(events)) return resolve();
        waiters.push({ until: () => predicate(events), resolve });
      });
    },
  };
}

function watchFrom(path: string, query: Record<string, string>) {
  const log = eventLog();
  let stop: AbortController | undefined;
  const done = new Promise<unknown>((resolve) => {
    new Watch(config)
      .watch(path, query, (type, object) => log.push(type, object), resolve)
      .then((controller) => {
        stop = controller;
      });
  });
  return { log, done, stop: () => stop?.abort() };
}

test("objects are created once, read back, and what is missing is a 404", async () => {
  const created = await core.createNamespacedConfigMap({ namespace, body: configMap("settings") });
  assert.match(created.metadata!.uid!, /^[0-9a-f-]{36}$/);
  assert.ok(created.metadata!.creationTimestamp instanceof Date, "creationTimestamp is set");
  assert.equal(created.metadata!.resourceVersion, api.resourceVersion);

  const again = await failure(core.createNamespacedConfigMap({ namespace, body: configMap("settings") }));
  assert.equal(again.reason, "AlreadyExists");
  assert.equal(again.code, 409);
  assert.deepEqual((await core.readNamespacedConfigMap({ namespace, name: "settings" })).data, { greeting: "hello" });
  assert.equal((await failure(core.readNamespacedConfigMap({ namespace, name: "nothing" }))).reason, "NotFound");
  assert.equal((await failure(core.createNamespacedConfigMap({ namespace: "elsewhere", body: configMap("x") }))).code, 404);

  const generated = await core.createNamespacedConfigMap({ namespace, body: { metadata: { generateName: "run-" } } });
  assert.match(generated.metadata!.name!, /^run-[a-z0-9]{5}$/);
  assert.deepEqual(
    api.requests.map((request) => `${request.method} ${request.status}`),
    ["POST 201", "POST 409", "GET 200", "GET 404", "POST 404", "POST 201"],
  );
});

test("requests without the kubeconfig's token are refused", async () => {
  const response = await fetch(`${api.url}/api/v1/namespaces`);
  assert.equal(response.status, 401);
  assert.equal(((await response.json()) as { reason: string }).reason, "Unauthorized");
});

test("lists filter by label and field selectors, and carry the list's resourceVersion", async () => {
  const pod = (name: string, labels: Record<string, string>) => ({ metadata: { name, labels }, spec: { containers: [{ name: "main", image: "busybox" }] } });
  await core.createNamespacedPod({ namespace, body: pod("front", { app: "web", tier: "front" }) });
  await core.createNamespacedPod({ namespace, body: pod("back", { app: "web" }) });
  await core.createNamespacedPod({ namespace, body: pod("store", { app: "db" }) });
  const names = async (labelSelector?: string, fieldSelector?: string) =>
    (await core.listNamespacedPod({ namespace, labelSelector, fieldSelector })).items.map((item) => item.metadata!.name);

  assert.deepEqual(await names("app=web"), ["back", "front"]);
  assert.deepEqual(await names("app!=web"), ["store"]);
  assert.deepEqual(await names("!tier"), ["back", "store"]);
  assert.deepEqual(await names("tier"), ["front"]);
  assert.deepEqual(await names("app in (db, cache)"), ["store"]);
  assert.deepEqual(await names("app=web,tier notin (front)"), ["back"]);
  assert.deepEqual(await names(undefined, "metadata.name=back"), ["back"]);
  assert.equal((await failure(core.listNamespacedPod({ namespace, labelSelector: "app=(" }))).code, 400);

  const everywhere = await core.listPodForAllNamespaces({});
  assert.equal(everywhere.kind, "PodList");
  assert.equal(everywhere.items.length, 3);
  assert.equal(everywhere.metadata!.resourceVersion, api.resourceVersion);
  assert.deepEqual(
    api.list("pods", namespace, "app=web").map((item) => item.metadata.name),
    ["back", "front"],
  );
});

test("a replace carrying a stale resourceVersion is a 409 Conflict", async () => {
  const first = await core.createNamespacedConfigMap({ namespace, body: configMap("settings") });
  const second = await core.replaceNamespacedConfigMap({ namespace, name: "settings", body: { ...first, data: { greeting: "hi" } } });
  assert.notEqual(second.metadata!.resourceVersion, first.metadata!.resourceVersion);

  const stale = await failure(core.replaceNamespacedConfigMap({ namespace, name: "settings", body: { ...first, data: { greeting: "hey" } } }));
  assert.equal(stale.reason, "Conflict");
  assert.match(stale.message, /the object has been modified/);
  const unconditional = { ...first, metadata: { ...first.metadata, resourceVersion: undefined }, data: { greeting: "hey" } };
  assert.deepEqual((await core.replaceNamespacedConfigMap({ namespace, name: "settings", body: unconditional })).data, { greeting: "hey" });
});

test("server-side apply creates, then merges what is applied; spec changes bump generation", async () => {
  const objects = KubernetesObjectApi.makeApiClient(config);
  const apply = (object: KubernetesObject, fieldManager: string | undefined) =>
    objects.patch(object, undefined, undefined, fieldManager, true, PatchStrategy.ServerSideApply);

  const created = await apply(statefulSet("box"), "outpost");
  assert.equal(created.metadata!.generation, 1);
  assert.equal(api.requests.at(-1)!.status, 201);
  assert.ok(
    api.requests.some((request) => request.path === "/apis/apps/v1"),
    "the client found the plural through discovery",
  );

  const changed = statefulSet("box", 0, "alpine");
  changed.metadata!.labels = { extra: "yes" };
  const merged = (await apply(changed, "outpost")) as V1StatefulSet;
  assert.deepEqual(merged.metadata!.labels, { app: "box", extra: "yes" }, "maps are merged");
  assert.deepEqual(
    merged.spec!.template.spec!.containers.map((container) => container.image),
    ["alpine"],
    "lists are replaced",
  );
  assert.equal(merged.spec!.replicas, 0);
  assert.equal(merged.metadata!.generation, 2);

  const relabelled = await apply({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "box", namespace, labels: { more: "1" } } }, "outpost");
  assert.equal(relabelled.metadata!.generation, 2, "a metadata change is not a spec change");
  assert.equal((await failure(apply(statefulSet("box"), undefined))).code, 400, "apply needs a field manager");
});

test("the status subresource and the main resource each change only their own part", async () => {
  const created = await apps.createNamespacedStatefulSet({ namespace, body: { ...statefulSet("box"), status: { replicas: 7 } } });
  assert.equal(created.status, undefined, "a create does not take status");

  const withStatus = await apps.replaceNamespacedStatefulSetStatus({
    namespace,
    name: "box",
    body: { ...created, spec: { ...created.spec!, replicas: 5 }, status: { replicas: 1, readyReplicas: 1 } },
  });
  assert.equal(withStatus.spec!.replicas, 1, "the status subresource ignores spec");
  assert.equal(withStatus.status!.readyReplicas, 1);
  assert.equal(withStatus.metadata!.generation, 1);

  const withSpec = await apps.replaceNamespacedStatefulSet({
    namespace,
    name: "box",
    body: { ...withStatus, spec: { ...withStatus.spec!, replicas: 3 }, status: { replicas: 9 } },
  });
  assert.equal(withSpec.spec!.replicas, 3);
  assert.deepEqual({ ...withSpec.status }, { replicas: 1, readyReplicas: 1 }, "the main resource ignores status");
  assert.equal(withSpec.metadata!.generation, 2);

  // The typed clients send JSON patches unless told otherwise.
  const patched = await apps.patchNamespacedStatefulSetStatus({ namespace, name: "box", body: [{ op: "replace", path: "/status/readyReplicas", value: 0 }] });
  assert.equal(patched.status!.readyReplicas, 0);
  assert.equal(patched.spec!.replicas, 3);

  api.patchStatus("statefulsets.apps", namespace, "box", { currentReplicas: 1, readyReplicas: null });
  assert.deepEqual(api.get("statefulsets.apps", namespace, "box")!.status, { replicas: 1, currentReplicas: 1 });
});

test("an object with finalizers is only marked by a delete, and goes when they are removed", async () => {
  const changes: string[] = [];
  api.onChange((change) => changes.push(`${change.type} ${change.key}/${change.object.metadata.name}`));
  await core.createNamespacedConfigMap({ namespace, body: configMap("held", {}, { metadata: { name: "held", finalizers: ["example.com/hold"] } }) });

  await core.deleteNamespacedConfigMap({ namespace, name: "held" });
  const stillThere = await core.readNamespacedConfigMap({ namespace, name: "held" });
  assert.ok(stillThere.metadata!.deletionTimestamp instanceof Date, "the object is marked for deletion");

  await core.replaceNamespacedConfigMap({ namespace, name: "held", body: { ...stillThere, metadata: { ...stillThere.metadata, finalizers: [] } } });
  assert.equal((await failure(core.readNamespacedConfigMap({ namespace, name: "held" }))).code, 404);
  assert.deepEqual(changes, ["ADDED configmaps/held", "MODIFIED configmaps/held", "DELETED configmaps/held"]);
  assert.equal((await failure(core.deleteNamespacedConfigMap({ namespace, name: "held" }))).code, 404);
});

test("deleting an owner deletes its dependents in cascade, unless they are orphaned", async () => {
  const own = (owner: KubeObject) => [{ apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true }];
  const set = (await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("box") })) as unknown as KubeObject;
  const pod = api.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "box-0", namespace, ownerReferences: own(set) } });
  api.create("persistentvolumeclaims", {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data-box-0", namespace, ownerReferences: own(set) },
  });
  api.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "of-the-pod", namespace, ownerReferences: own(pod) } });

  await apps.deleteNamespacedStatefulSet({ namespace, name: "box" });
  assert.equal(api.get("pods", namespace, "box-0"), undefined);
  assert.equal(api.get("persistentvolumeclaims", namespace, "data-box-0"), undefined);
  assert.equal(api.get("configmaps", namespace, "of-the-pod"), undefined, "the cascade goes on past the first level");

  const kept = (await apps.createNamespacedStatefulSet({ namespace, body: statefulSet("kept") })) as unknown as KubeObject;
  api.create("pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "kept-0", namespace, ownerReferences: own(kept) } });
  await apps.deleteNamespacedStatefulSet({ namespace, name: "kept", propagationPolicy: "Orphan" });
  const orphan = api.get("pods", namespace, "kept-0");
  assert.deepEqual(orphan?.metadata.ownerReferences, undefined, "the orphan stays, without its owner");
  assert.equal(orphan?.metadata.name, "kept-0");
});

test("a watch replays the history after its resourceVersion, then follows live changes, in-process ones too", async () => {
  const first = await core.createNamespacedConfigMap({ namespace, body: configMap("a", { app: "x" }) });
  await core.replaceNamespacedConfigMap({ namespace, name: "a", body: { ...first, data: { greeting: "again" } } });
  await core.createNamespacedConfigMap({ namespace, body: configMap("b", { app: "x" }) });
  await core.deleteNamespacedConfigMap({ namespace, name: "a" });

  const resumed = watchFrom("/api/v1/namespaces/default/configmaps", { resourceVersion: first.metadata!.resourceVersion! });
  const fresh = watchFrom("/api/v1/namespaces/default/configmaps", { labelSelector: "app=x" });
  await resumed.log.until((seen) => seen.length === 3);
  assert.deepEqual(
    resumed.log.events.map((event) => `${event.type} ${event.name}`),
    ["MODIFIED a", "ADDED b", "DELETED a"],
  );
  await fresh.log.until((seen) => seen.length === 1);
  assert.deepEqual(
    fresh.log.events.map((event) => `${event.type} ${event.name}`),
    ["ADDED b"],
    "without a resourceVersion, a watch starts with what exists",
  );

  api.create("configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace, labels: { app: "x" } } });
  const b = api.get("configmaps", namespace, "b")!;
  api.replace("configmaps", { ...b, metadata: { ...b.metadata, labels: { app: "y" } } });
  await fresh.log.until((seen) => seen.length === 3);
  assert.deepEqual(
    fresh.log.events.map((event) => `${event.type} ${event.name}`),
    ["ADDED b", "ADDED c", "DELETED b"],
    "an object that stops matching the selector leaves the watch's view",
  );
  assert.equal(fresh.log.events.at(-1)!.object.metadata.resourceVersion, api.resourceVersion);
  resumed.stop();
  fresh.stop();

  const bounded = watchFrom("/api/v1/namespaces/default/configmaps", { timeoutSeconds: "1", allowWatchBookmarks: "true" });
  assert.equal(await bounded.done, null, "the server ends a watch after timeoutSeconds");
  assert.deepEqual(
    bounded.log.events.map((event) => event.type),
    ["ADDED", "ADDED", "BOOKMARK"],
  );
  assert.equal(bounded.log.events[2]!.object.metadata.resourceVersion, api.resourceVersion);
});

test("resuming a watch from a compacted resourceVersion gets 410 Expired, and an informer relists and carries on", async () => {
  const old = await core.createNamespacedConfigMap({ namespace, body: configMap("a") });
  await core.createNamespacedConfigMap({ namespace, body: configMap("b") });
  api.compact();
  const expired = watchFrom("/api/v1/namespaces/default/configmaps", { resourceVersion: old.metadata!.resourceVersion! });
  assert.equal(await expired.done, null, "the server ends the stream after the error");
  assert.equal(expired.log.events.length, 1);
  assert.equal(expired.log.events[0]!.type, "ERROR");
  assert.equal(expired.log.events[0]!.object.code, 410);
  assert.equal(expired.log.events[0]!.object.reason, "Expired");

  const path = "/api/v1/namespaces/default/configmaps";
  const informer = makeInformer(config, path, () => core.listNamespacedConfigMap({ namespace, labelSelector: "app=watched" }), "app=watched");
  const log = eventLog();
  let connects = 0;
  informer.on("add", (object) => log.push("add", object));
  informer.on("connect", () => log.push("connect", { metadata: { name: String(++connects) } }));
  await informer.start();
  await core.createNamespacedConfigMap({ namespace, body: configMap("watched-1", { app: "watched" }) });
  await log.until((seen) => seen.some((event) => event.name === "watched-1"));

  // Changes the informer's selector does not see move the resourceVersion past what it knows;
  // once the history is forgotten, its resumed watch is too old.
  await core.createNamespacedConfigMap({ namespace, body: configMap("other", { app: "other" }) });
  api.compact();
  api.dropWatches();
  await log.until(() => connects === 3);
  await core.createNamespacedConfigMap({ namespace, body: configMap("watched-2", { app: "watched" }) });
  await log.until((seen) => seen.some((event) => event.name === "watched-2"));
  assert.deepEqual(
    informer
      .list(namespace)
      .map((object) => object.metadata!.name)
      .sort(),
    ["watched-1", "watched-2"],
  );
  const lists = api.requests.filter((request) => request.path === path && request.method === "GET" && !request.watch);
  assert.equal(lists.length, 2, "the informer listed again after the 410");
  await informer.stop();
});

test("dropped watches: a closed stream is resumed where it was; a broken one is an error for the client", async () => {
  const informer = makeInformer(config, "/api/v1/namespaces/default/configmaps", () => core.listNamespacedConfigMap({ namespace }));
  const log = eventLog();
  let connects = 0;
  informer.on("connect", () => log.push("connect", { metadata: { name: String(++connects) } }));
  informer.on("update", (object) => log.push("update", object));
  await informer.start();
  const created = await core.createNamespacedConfigMap({ namespace, body: configMap("a") });

  api.dropWatches();
  await log.until(() => connects === 2);
  await core.replaceNamespacedConfigMap({ namespace, name: "a", body: { ...created, data: { greeting: "changed" } } });
  await log.until((seen) => seen.some((event) => event.object.data?.greeting === "changed"));
  const lists = api.requests.filter((request) => request.method === "GET" && !request.watch && request.path.endsWith("/configmaps"));
  assert.equal(lists.length, 1, "a resumed watch needs no new list");
  await informer.stop();

  const broken = watchFrom("/api/v1/namespaces/default/configmaps", {});
  await broken.log.until((seen) => seen.length === 1);
  api.dropWatches({ abrupt: true });
  assert.ok((await broken.done) instanceof Error, "the client is told the stream broke");
});

test("fail rules answer the next matching requests with a Status, or not at all", async () => {
  await core.createNamespacedConfigMap({ namespace, body: configMap("settings") });
  api.resetRequests();
  api.fail({ method: "GET", pathIncludes: "/configmaps/settings", status: 503, count: 2 });
  assert.equal((await failure(core.readNamespacedConfigMap({ namespace, name: "settings" }))).reason, "ServiceUnavailable");
  assert.equal((await failure(core.readNamespacedConfigMap({ namespace, name: "settings" }))).code, 503);
  assert.equal((await core.readNamespacedConfigMap({ namespace, name: "settings" })).metadata!.name, "settings");
  assert.deepEqual(
    api.requests.map((request) => request.status),
    [503, 503, 200],
  );

  api.fail({ pathIncludes: "/configmaps/stuck", hang: true });
  let outcome = "pending";
  const stuck = core.readNamespacedConfigMap({ namespace, name: "stuck" }).then(
    () => {
      outcome = "answered";
    },
    () => {
      outcome = "failed";
    },
  );
  await core.listNamespacedConfigMap({ namespace });
  assert.equal(outcome, "pending", "a later request was answered, the hung one not");
  await api.close();
  await stuck;
  assert.equal(outcome, "failed");
});

test("bodies over 3 MiB are refused with 413", async () => {
  const big = configMap("big", {}, { data: { blob: "x".repeat(3 * 1024 * 1024 + 1) } });
  assert.equal((await failure(core.createNamespacedConfigMap({ namespace, body: big }))).reason, "RequestEntityTooLarge");
});

test("the two custom Cluster kinds are told apart by group, and deleting a namespace empties it first", async () => {
  const objects = KubernetesObjectApi.makeApiClient(config);
  const cluster = (apiVersion: string) => ({ apiVersion, kind: "Cluster", metadata: { name: "db", namespace: "project" }, spec: {} });
  await core.createNamespace({ body: { metadata: { name: "project" } } });
  await objects.create(cluster("apps.kubeblocks.io/v1"));
  await objects.create(cluster("postgresql.cnpg.io/v1"));
  assert.equal(api.get("clusters.apps.kubeblocks.io", "project", "db")?.apiVersion, "apps.kubeblocks.io/v1");
  assert.equal(api.get("clusters.postgresql.cnpg.io", "project", "db")?.apiVersion, "postgresql.cnpg.io/v1");
  const listed = await objects.list("postgresql.cnpg.io/v1", "Cluster", "project");
  assert.deepEqual(
    listed.items.map((item) => item.kind),
    ["Cluster"],
    "custom resources keep their kind in lists",
  );

  api.create("secrets", { apiVersion: "v1", kind: "Secret", metadata: { name: "held", namespace: "project", finalizers: ["example.com/hold"] } });
  await core.deleteNamespace({ name: "project" });
  assert.equal((await core.readNamespace({ name: "project" })).status!.phase, "Terminating");
  assert.equal(api.get("clusters.apps.kubeblocks.io", "project", "db"), undefined);
  assert.equal((await failure(core.createNamespacedConfigMap({ namespace: "project", body: configMap("late") }))).reason, "Forbidden");

  const held = api.get("secrets", "project", "held")!;
  api.replace("secrets", { ...held, metadata: { ...held.metadata, finalizers: [] } });
  assert.equal((await failure(core.readNamespace({ name: "project" }))).code, 404);
});
