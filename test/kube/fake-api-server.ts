// A stand-in Kubernetes API server for tests. No real API server can run where the tests
// run, so the Kubernetes driver's tests talk to this one: it speaks the real wire protocol
// (discovery, CRUD, patch, server-side apply, status subresources, watch streams, Status
// errors) over a real socket, so the real @kubernetes/client-node is what gets exercised.
//
// Simulated controllers (test/kube/fake-kubelet.ts) use the in-process methods below, which
// work on the same store: every change made there bumps resourceVersion and reaches HTTP
// watchers exactly like one made over HTTP. In-process writes check what the server checks:
// replace() with a stale metadata.resourceVersion throws a 409 Conflict (leave it out to
// write unconditionally), creates need the namespace to exist ("default", "kube-system" and
// "kube-public" always do), remove() of a missing object throws a 404. Failures are thrown
// as KubeApiError with the Status a client would get.
//
// The pieces live in test/kube/fake-api/: store (objects, versions, finalizers, garbage
// collection), http (routing), watch, selectors, patch (merge, JSON patch, apply), resources
// (types served and discovery).
import { writeFileSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";
import { notFound } from "./fake-api/errors.ts";
import { type FailRule, handleRequest } from "./fake-api/http.ts";
import { mergePatch } from "./fake-api/patch.ts";
import { parseLabelSelector } from "./fake-api/selectors.ts";
import { type DeleteOptions, ObjectStore } from "./fake-api/store.ts";
import type { ChangeEvent, KubeObject, KubeObjectInput, RequestRecord } from "./fake-api/types.ts";
import { WatchHub } from "./fake-api/watch.ts";

export { KubeApiError } from "./fake-api/errors.ts";
export { RESOURCES, resourceKey } from "./fake-api/resources.ts";
export type { ChangeEvent, KubeObject, KubeObjectInput, ObjectMeta, OwnerReference, RequestRecord, ResourceType } from "./fake-api/types.ts";

const CONTEXT = "outpost-fake";

export class FakeKubeApi {
  /** The bearer token every HTTP request must carry (the kubeconfigs below do); others get 401. */
  readonly token = "outpost-fake-token";
  readonly requests: RequestRecord[] = [];
  private readonly rules: FailRule[] = [];
  private readonly hung = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    private readonly store: ObjectStore,
    private readonly watches: WatchHub,
    readonly url: string,
  ) {}

  static async start(options: { historyLimit?: number } = {}): Promise<FakeKubeApi> {
    const store = new ObjectStore(options.historyLimit ?? 10_000);
    const watches = new WatchHub(store);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", resolve);
    });
    const { port } = server.address() as AddressInfo;
    const api = new FakeKubeApi(server, store, watches, `http://127.0.0.1:${port}`);
    const context = { store, watches, requests: api.requests, rules: api.rules, hung: api.hung, token: api.token, address: `127.0.0.1:${port}` };
    server.on("request", (req, res) => handleRequest(context, req, res));
    return api;
  }

  /** A client-node KubeConfig whose current context is this server, with that namespace. */
  kubeConfig(namespace = "default"): KubeConfig {
    const config = new KubeConfig();
    // client-node refuses plain http unless TLS verification is off; there is no TLS to verify.
    config.loadFromOptions({
      clusters: [{ name: CONTEXT, server: this.url, skipTLSVerify: true }],
      users: [{ name: CONTEXT, token: this.token }],
      contexts: [{ name: CONTEXT, cluster: CONTEXT, user: CONTEXT, namespace }],
      currentContext: CONTEXT,
    });
    return config;
  }

  /** The same, as a kubeconfig file (what KUBECONFIG or loadFromFile reads). */
  writeKubeconfig(path: string, namespace = "default"): void {
    const file = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: CONTEXT, cluster: { server: this.url, "insecure-skip-tls-verify": true } }],
      users: [{ name: CONTEXT, user: { token: this.token } }],
      contexts: [{ name: CONTEXT, context: { cluster: CONTEXT, user: CONTEXT, namespace } }],
      "current-context": CONTEXT,
    };
    writeFileSync(path, toYaml(file), { mode: 0o600 });
  }

  get(key: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.store.get(key, namespace, name);
  }

  list(key: string, namespace?: string, labelSelector?: string): KubeObject[] {
    return this.store.list(key, namespace, parseLabelSelector(labelSelector));
  }

  /** Throws a 409 AlreadyExists KubeApiError when the object is there. Keeps a given status. */
  create(key: string, object: KubeObject | KubeObjectInput): KubeObject {
    return this.store.create(key, object, "ifGiven");
  }

  /** Whole object; keeps the stored status unless one is given. Emptying the finalizers of an
   *  object being deleted lets it go. */
  replace(key: string, object: KubeObject | KubeObjectInput): KubeObject {
    return this.store.update(key, object, "ifGiven");
  }

  /** Merges `status` into the object's status (a JSON merge patch: null removes a field). */
  patchStatus(key: string, namespace: string | undefined, name: string, status: unknown): KubeObject {
    const stored = this.store.get(key, namespace, name);
    if (!stored) throw notFound(this.store.typeOf(key), name);
    return this.store.update(key, { ...stored, status: mergePatch(stored.status, status) }, "only");
  }

  /** Same as DELETE: with finalizers the object only gets a deletionTimestamp; dependents go
   *  with it (or lose their ownerReference with propagationPolicy Orphan). */
  remove(key: string, namespace: string | undefined, name: string, options?: DeleteOptions): void {
    this.store.delete(key, namespace, name, options);
  }

  /** Called for every change, in order, synchronously. The listener gets its own copy. */
  onChange(listener: (event: ChangeEvent) => void): () => void {
    return this.store.subscribe((change) => listener({ type: change.type, key: change.key, object: structuredClone(change.object) }));
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  resetRequests(): void {
    this.requests.length = 0;
  }

  /** The next `count` (default 1) HTTP requests matching (method; pathIncludes checked against
   *  path and query) answer with a Status of `status` (default 500), or, with hang: true,
   *  never answer (until close). Rules are used in the order given. */
  fail(rule: { method?: string; pathIncludes?: string; status?: number; hang?: boolean; count?: number }): void {
    this.rules.push({ ...rule, count: rule.count ?? 1 });
  }

  /** Ends every open watch stream now. By default the server closes the streams cleanly (as on
   *  a watch timeout or an API server restart); abrupt: true breaks the connections instead. */
  dropWatches(options: { abrupt?: boolean } = {}): void {
    this.watches.dropAll(options.abrupt ?? false);
  }

  /** How many watch streams are open now (tests wait for a client to re-watch). */
  get openWatches(): number {
    return this.watches.count;
  }

  /** Sends a BOOKMARK event with the current resourceVersion to watches that allow them. */
  sendBookmarks(): void {
    this.watches.bookmarkAll();
  }

  /** Forgets the change history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.store.compact();
  }

  async close(): Promise<void> {
    this.watches.dropAll(true);
    for (const res of this.hung) res.destroy();
    this.hung.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
