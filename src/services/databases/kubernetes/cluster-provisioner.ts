// What the two cluster-per-project provisioners (kubeblocks.ts, cloudnative-pg.ts) share: a
// project's database is a whole PostgreSQL cluster an operator runs in Outpost's namespace.
// ensure() applies the Cluster (server-side apply, only when there is none: a Cluster an
// admin resized is left as it is), waits until the operator says it is ready (bounded by the
// caller's signal and readyTimeoutMs), reads the superuser from the operator's Secret, and
// then does the role and database work exactly as the `server` provisioner does, through a
// ServerProvisioner made for that cluster's Service.
//
// Branches are not clusters of their own (a whole cluster per copy is heavy): a branch is
// CREATE DATABASE … TEMPLATE inside its source's cluster, with its own role, as on any server.
// So where a database lives is written down: each database has a home ConfigMap
// (manifests.ts) naming its cluster, made before the database or its cluster is. A drop
// removes the database alone while other databases (branches, a promoted branch) live in the
// same cluster, and deletes the Cluster (its volumes and secrets go by the operator's owner
// references) with the last one. Deleting a sandbox never touches any of this.
import {
  type ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from "@kubernetes/client-node";
import { OutpostError, StartupError } from "../../../domain/errors.ts";
import type { DatabaseFacts, DatabaseRef, EnsureOptions, Provisioner, ServerEndpoint } from "../provisioner.ts";
import { ServerProvisioner } from "../server.ts";
import { waitForObject } from "./cluster-wait.ts";
import {
  CLUSTER_LABEL,
  type ClusterInput,
  type ClusterShape,
  DEFAULT_SHAPE,
  homeConfigMap,
  homeName,
  INSTALLATION_LABEL,
  installationSelector,
  type KubeObject,
  kubernetesName,
} from "./manifests.ts";

/** What the operator's status says: ready for SQL, still coming, or failed for good. */
export type Readiness = { state: "ready" } | { state: "waiting" | "failed"; detail: string };

/** One operator's kind of Cluster: its manifest, how to read its status, and the names it makes. */
export interface ClusterKind {
  readonly provisioner: "kubeblocks" | "cloudnative-pg";
  /** For people: "KubeBlocks", "CloudNativePG". */
  readonly title: string;
  readonly apiVersion: string;
  readonly plural: string;
  /** The longest Cluster name whose derived names (Services, pods) stay valid. */
  readonly maxNameLength: number;
  manifest(input: ClusterInput): KubeObject;
  readiness(cluster: KubeObject): Readiness;
  /** The Secret with the superuser's `username` and `password`. */
  superuserSecret(cluster: string): string;
  /** The Service in front of the primary (port 5432). */
  primaryService(cluster: string): string;
}

/** Where a Service is reached from the control plane (default: the cluster's DNS). */
export type ServiceAddress = (service: { name: string; namespace: string; port: number }) => { host: string; port: number };

export interface ClusterProvisionerOptions {
  /** Labels everything made (outpost.dev/installation) and scopes what is looked at. */
  installation: string;
  shape?: Partial<ClusterShape>;
  /** How long ensure() waits for a Cluster to become ready at most (also when the caller gives no signal). */
  readyTimeoutMs?: number;
  serviceAddress?: ServiceAddress;
}

const POSTGRES_PORT = 5432;
const DEFAULT_READY_TIMEOUT_MS = 15 * 60_000;
/** SQLSTATE invalid_password: the superuser's password changed under a cached connection. */
const INVALID_PASSWORD = "28P01";

const duration = (ms: number) => (ms < 60_000 ? `${ms / 1000} s` : `${Math.round(ms / 60_000)} min`);

const clusterDNS: ServiceAddress = ({ name, namespace, port }) => ({ host: `${name}.${namespace}.svc`, port });

const isNotFound = (error: unknown) => (error as ApiException<unknown>).code === 404;
const isConflict = (error: unknown) => (error as ApiException<unknown>).code === 409;

export class ClusterProvisioner implements Provisioner {
  readonly name: ClusterKind["provisioner"];
  readonly #kind: ClusterKind;
  readonly #namespace: string;
  readonly #installation: string;
  readonly #shape: ClusterShape;
  readonly #readyTimeoutMs: number;
  readonly #address: ServiceAddress;
  readonly #group: string;
  readonly #version: string;
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #objects: KubernetesObjectApi;
  readonly #kc: KubeConfig;
  /** Admin sessions per cluster, with the URL (superuser credentials) they were made from. */
  readonly #servers = new Map<string, { url: string; server: ServerProvisioner }>();

  constructor(kc: KubeConfig, namespace: string, kind: ClusterKind, options: ClusterProvisionerOptions) {
    this.name = kind.provisioner;
    this.#kind = kind;
    this.#kc = kc;
    this.#namespace = namespace;
    this.#installation = options.installation;
    this.#shape = { ...DEFAULT_SHAPE, ...options.shape };
    this.#readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
    this.#address = options.serviceAddress ?? clusterDNS;
    [this.#group, this.#version] = kind.apiVersion.split("/") as [string, string];
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#objects = KubernetesObjectApi.makeApiClient(kc);
  }

  /** Checks the API server answers and the operator's Cluster kind is installed. */
  async start(): Promise<void> {
    try {
      await this.#custom.listNamespacedCustomObject({ ...this.#resource(), limit: 1 });
    } catch (error) {
      const { title, apiVersion, plural } = this.#kind;
      if (isNotFound(error)) {
        throw new StartupError(
          `the ${title} Cluster API (${plural}.${this.#group}, ${apiVersion}) is not installed in the cluster`,
          `install the ${title} operator${this.name === "kubeblocks" ? " and its postgresql addon" : ""}, or choose another OUTPOST_DATABASE_PROVISIONER`,
        );
      }
      throw new StartupError(
        `cannot list ${title} Clusters in namespace ${this.#namespace}: ${(error as Error).message}`,
        `check the kubeconfig and that the control plane's service account may get, list, watch, create, patch and delete ${plural}.${this.#group}`,
      );
    }
  }

  /** The Service of the primary of the database's cluster. */
  async endpoint(ref: DatabaseRef): Promise<ServerEndpoint> {
    const { host, port } = this.#serviceOf(await this.#homeOf(ref));
    return { kind: "tcp", host, port };
  }

  async ensure(ref: DatabaseRef, options: EnsureOptions): Promise<void> {
    const home = await this.#homeOf(ref);
    await this.#recordHome(ref, home);
    const bounded = this.#bounded(options.signal);
    let cluster = await this.#readCluster(home);
    if (cluster?.metadata.deletionTimestamp) {
      // A drop (a reset) is still taking the old one down: a new one follows it.
      await this.#waitGone(home, bounded);
      cluster = undefined;
    }
    if (!cluster) {
      const manifest = this.#kind.manifest({ name: home, namespace: this.#namespace, installation: this.#installation, ref, shape: this.#shape });
      await this.#objects.patch(manifest as KubernetesObject, undefined, undefined, "outpost", true, PatchStrategy.ServerSideApply);
    }
    await this.#waitReady(home, bounded);
    await this.#withServer(home, (server) => server.ensure(ref, options));
  }

  async inspect(ref: DatabaseRef, signal?: AbortSignal): Promise<DatabaseFacts> {
    signal?.throwIfAborted();
    const home = await this.#homeOf(ref);
    const cluster = await this.#readCluster(home);
    if (!cluster || cluster.metadata.deletionTimestamp) return { exists: false, sizeBytes: null, serverVersion: "", availableExtensions: [] };
    this.#requireReady(cluster);
    return this.#withServer(home, (server) => server.inspect(ref, signal));
  }

  async setPassword(ref: DatabaseRef, password: string): Promise<void> {
    const home = await this.#homeOf(ref);
    this.#requireReady(await this.#readCluster(home));
    await this.#withServer(home, (server) => server.setPassword(ref, password));
  }

  /** The database alone while others live in its cluster; the whole Cluster with the last one. */
  async drop(ref: DatabaseRef): Promise<void> {
    const home = await this.#homeOf(ref);
    const cluster = await this.#readCluster(home);
    if (cluster && !cluster.metadata.deletionTimestamp) {
      const others = (await this.#residents(home)).filter((name) => name !== ref.name);
      if (others.length > 0) {
        this.#requireReady(cluster);
        await this.#withServer(home, (server) => server.drop(ref));
      } else {
        await this.#forgetServer(home);
        await this.#custom.deleteNamespacedCustomObject({ ...this.#resource(), name: home }).catch((error) => {
          if (!isNotFound(error)) throw error;
        });
      }
    }
    await this.#core.deleteNamespacedConfigMap({ name: homeName(ref.name), namespace: this.#namespace }).catch((error) => {
      if (!isNotFound(error)) throw error;
    });
  }

  /** CREATE DATABASE … TEMPLATE inside the source's cluster (the branch lives there, with its own role). */
  async branch(source: DatabaseRef, target: DatabaseRef, options: EnsureOptions): Promise<void> {
    const home = await this.#homeOf(source);
    if (!(await this.#readCluster(home))) {
      throw new OutpostError("DATABASE_MISSING", `Database ${source.name}'s ${this.#kind.title} Cluster ${home} is gone; there is nothing to copy.`);
    }
    await this.#recordHome(target, home);
    await this.#waitReady(home, this.#bounded(options.signal));
    await this.#withServer(home, (server) => server.branch(source, target, options));
  }

  async toolConnection(ref: DatabaseRef, password: string) {
    const { host, port } = this.#serviceOf(await this.#homeOf(ref));
    return { host, port, user: ref.role, database: ref.name, password };
  }

  async close(): Promise<void> {
    const servers = [...this.#servers.values()];
    this.#servers.clear();
    await Promise.all(servers.map(({ server }) => server.close().catch(() => {})));
  }

  // ---- where a database lives ----

  /** The cluster holding the database: its home ConfigMap's, or (none yet) the one named after it. */
  async #homeOf(ref: DatabaseRef): Promise<string> {
    try {
      const home = await this.#core.readNamespacedConfigMap({ name: homeName(ref.name), namespace: this.#namespace });
      const cluster = home.data?.cluster;
      if (cluster && home.metadata?.labels?.[INSTALLATION_LABEL] === this.#installation) return cluster;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    return kubernetesName(ref.name, this.#kind.maxNameLength);
  }

  async #recordHome(ref: DatabaseRef, cluster: string): Promise<void> {
    const body = homeConfigMap({ namespace: this.#namespace, installation: this.#installation, databaseName: ref.name, cluster });
    await this.#core.createNamespacedConfigMap({ namespace: this.#namespace, body: body as never }).catch((error) => {
      if (!isConflict(error)) throw error;
    });
  }

  /** The databases whose home is the cluster. */
  async #residents(cluster: string): Promise<string[]> {
    const list = await this.#core.listNamespacedConfigMap({
      namespace: this.#namespace,
      labelSelector: `${installationSelector(this.#installation)},${CLUSTER_LABEL}=${cluster}`,
    });
    return list.items.map((item) => item.data?.database ?? "").filter(Boolean);
  }

  // ---- the Cluster ----

  #resource() {
    return { group: this.#group, version: this.#version, namespace: this.#namespace, plural: this.#kind.plural };
  }

  async #readCluster(name: string): Promise<KubeObject | undefined> {
    try {
      const cluster = (await this.#custom.getNamespacedCustomObject({ ...this.#resource(), name })) as KubeObject;
      const owner = cluster.metadata.labels?.[INSTALLATION_LABEL];
      if (owner !== this.#installation) {
        throw new OutpostError(
          "DATABASE_PROVISION_FAILED",
          `${this.#kind.title} Cluster ${name} in namespace ${this.#namespace} is not this Outpost's (installation ${owner ?? "none"}).`,
        );
      }
      return cluster;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  #describe(name: string): string {
    return `${this.#kind.title} Cluster ${name} (namespace ${this.#namespace})`;
  }

  #requireReady(cluster: KubeObject | undefined): void {
    const name = cluster?.metadata.name ?? "";
    const readiness = cluster ? this.#kind.readiness(cluster) : { state: "waiting" as const, detail: "it does not exist" };
    if (readiness.state === "ready") return;
    throw new OutpostError("DATABASE_SERVER_UNAVAILABLE", `${this.#describe(name)} is not ready: ${readiness.detail}.`);
  }

  /** The caller's signal (if any) and readyTimeoutMs, whichever ends first. */
  #bounded(signal: AbortSignal | undefined): { signal: AbortSignal; caller: AbortSignal | undefined } {
    const timeout = AbortSignal.timeout(this.#readyTimeoutMs);
    return { signal: signal ? AbortSignal.any([signal, timeout]) : timeout, caller: signal };
  }

  #waitReady(name: string, bounded: { signal: AbortSignal; caller: AbortSignal | undefined }): Promise<KubeObject> {
    return waitForObject(
      this.#kc,
      { apiVersion: this.#kind.apiVersion, plural: this.#kind.plural, namespace: this.#namespace, name },
      {
        signal: bounded.signal,
        decide: (cluster) => {
          if (!cluster) throw new OutpostError("DATABASE_PROVISION_FAILED", `${this.#describe(name)} was deleted while Outpost waited for it to become ready.`);
          if (cluster.metadata.deletionTimestamp) throw new OutpostError("DATABASE_PROVISION_FAILED", `${this.#describe(name)} is being deleted.`);
          const readiness = this.#kind.readiness(cluster);
          if (readiness.state === "ready") return cluster;
          if (readiness.state === "failed") {
            throw new OutpostError("DATABASE_PROVISION_FAILED", `${this.#describe(name)} failed: ${readiness.detail}.`, {
              fix: `See \`kubectl describe ${this.#kind.plural}.${this.#group} ${name} -n ${this.#namespace}\`; reset the database to make it again.`,
            });
          }
          return undefined;
        },
        onStop: (last, reason) => {
          const state: Readiness = last ? this.#kind.readiness(last) : { state: "waiting", detail: "the Cluster does not exist" };
          const detail = state.state === "ready" ? "ready" : state.detail;
          return this.#notReady(name, detail, bounded.caller?.aborted === true, reason);
        },
      },
    );
  }

  #waitGone(name: string, bounded: { signal: AbortSignal; caller: AbortSignal | undefined }): Promise<true> {
    return waitForObject(
      this.#kc,
      { apiVersion: this.#kind.apiVersion, plural: this.#kind.plural, namespace: this.#namespace, name },
      {
        signal: bounded.signal,
        decide: (cluster) => (cluster ? undefined : true),
        onStop: (_last, reason) => this.#notReady(name, "the previous Cluster of this name was still being deleted", bounded.caller?.aborted === true, reason),
      },
    );
  }

  /** Waiting stopped: the caller gave up (an AbortError, as every aborted operation) or readyTimeoutMs passed. */
  #notReady(name: string, detail: string, callerAborted: boolean, reason: unknown): Error {
    const message = `${this.#describe(name)} was not ready when ${callerAborted ? "waiting was cancelled" : `${duration(this.#readyTimeoutMs)} had passed`}: ${detail}`;
    if (callerAborted) {
      const error = new Error(message, { cause: reason });
      error.name = "AbortError";
      return error;
    }
    return new OutpostError("DATABASE_PROVISION_FAILED", `${message}.`, {
      fix: `See \`kubectl describe ${this.#kind.plural}.${this.#group} ${name} -n ${this.#namespace}\` for why; the next start of a sandbox tries again.`,
    });
  }

  // ---- SQL on the cluster ----

  #serviceOf(cluster: string): { host: string; port: number } {
    return this.#address({ name: this.#kind.primaryService(cluster), namespace: this.#namespace, port: POSTGRES_PORT });
  }

  /** The superuser's URL from the operator's Secret. */
  async #adminUrl(cluster: string): Promise<string> {
    const secretName = this.#kind.superuserSecret(cluster);
    const secret = await this.#core.readNamespacedSecret({ name: secretName, namespace: this.#namespace }).catch((error) => {
      if (!isNotFound(error)) throw error;
      throw new OutpostError("DATABASE_SERVER_UNAVAILABLE", `${this.#describe(cluster)} has no superuser Secret ${secretName} yet.`);
    });
    const field = (key: string) => Buffer.from(secret.data?.[key] ?? "", "base64").toString("utf8");
    const user = field("username") || "postgres";
    const password = field("password");
    const { host, port } = this.#serviceOf(cluster);
    const address = host.includes(":") ? `[${host}]` : host;
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${address}:${port}/postgres`;
  }

  async #server(cluster: string): Promise<ServerProvisioner> {
    const cached = this.#servers.get(cluster);
    if (cached) return cached.server;
    const url = await this.#adminUrl(cluster);
    // Two calls may have read the Secret at once: the first to get here makes the one used.
    const raced = this.#servers.get(cluster);
    if (raced) return raced.server;
    const server = new ServerProvisioner(url);
    this.#servers.set(cluster, { url, server });
    return server;
  }

  async #forgetServer(cluster: string): Promise<void> {
    const entry = this.#servers.get(cluster);
    this.#servers.delete(cluster);
    await entry?.server.close().catch(() => {});
  }

  /** Work as the cluster's superuser; once more with a fresh Secret when its password changed. */
  async #withServer<T>(cluster: string, work: (server: ServerProvisioner) => Promise<T>): Promise<T> {
    try {
      return await work(await this.#server(cluster));
    } catch (error) {
      if ((error as { code?: string }).code !== INVALID_PASSWORD) throw error;
      await this.#forgetServer(cluster);
      return work(await this.#server(cluster));
    }
  }
}
