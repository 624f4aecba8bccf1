// The Kubernetes driver: each sandbox is a StatefulSet of one pod in the installation's
// namespace, with persistent volumes for its workspace and home, started by scaling the
// set to 1 and stopped by scaling it to 0. Its supervisor dials out to this control
// plane's TLS link endpoint (no pods/exec, no inbound port on pods), and everything else
// a sandbox needs (egress proxy, model gateway, ssh agent, database) comes through that
// endpoint too, so the pod's NetworkPolicy allows nothing else.
//
// State is read from watches (informers) of the installation's sets, pods and claims, found
// by labels, never by this process's identity: a restarted control plane, another replica,
// or a pod with a new name adopts everything there is and recreates or deletes nothing
// because of who it is. Writes are idempotent (server-side apply, deletes of what may be
// gone) and retried on the server's failures, so a kill or an API error at any line leaves
// something the next ensure finishes. Stages: volumes → pod scheduled → init → supervisor.

import type { SecureContext } from "node:tls";
import type { KubeConfig, KubernetesObject, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { CoreV1Api } from "@kubernetes/client-node";
import { type LinkEvent, LinkRegistry } from "../../supervisor/link/registry.ts";
import { LinkEndpoint } from "../../supervisor/link/tls-endpoint.ts";
import { connectLink } from "../connect-link.ts";
import type {
  ConnectOptions,
  Driver,
  EgressEndpoint,
  EnsureOptions,
  RemoveOptions,
  SandboxHandle,
  SandboxInspection,
  SandboxSpec,
  StopOptions,
  SupervisorLink,
} from "../driver.ts";
import { DriverError } from "../errors.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { SANDBOX_ID, validateSpec } from "../validate-spec.ts";
import { call, ObjectWrites } from "./api-calls.ts";
import { linkToken } from "./link-token.ts";
import type { PodSettings } from "./manifests/pod-settings.ts";
import { caConfigMap, networkPolicy, ownedBy, tokenSecret } from "./manifests/sandbox-objects.ts";
import { installationSelector, KEPT_LABEL, objectName, SANDBOX_LABEL, VOLUME_LABEL } from "./names.ts";
import { hintFor, KUBERNETES_STAGES, type KubernetesStage, lastExit, podProblem, stagesDone, supervisorRunning } from "./pod-status.ts";
import { WatchedObjects } from "./watched-objects.ts";
import { type Workload, type WorkloadKind, workload } from "./workloads.ts";

/** How long an operation waits for the watches' first list (the API server may be down). */
const SYNC_WAIT_MS = 30_000;

/** How long a running pod's supervisor gets to dial back before ensure treats it as stuck. */
const ADOPT_LINK_WAIT_MS = 15_000;

export interface KubernetesDriverOptions {
  kubeConfig: KubeConfig;
  pod: PodSettings;
  /** What runs each sandbox's pod (default: a StatefulSet). */
  workload?: WorkloadKind;
  /** Where the link endpoint listens (the pods dial pod.link, which leads here). */
  listen: { host: string; port: number };
  /** The link's TLS identity per server name (the installation CA signs it; the pods trust
   *  that CA through their ConfigMap). */
  tlsContextFor(servername: string): SecureContext;
  /** Derives each sandbox's link token (link-token.ts). */
  tokenKey: Buffer;
  /** The way out, carried over bridge connections, and the CA files sandboxes trust. */
  egress: EgressEndpoint;
  /** How long ensure waits for a pod to come up and its supervisor to link (ms; default 300 000: image pulls). */
  readyTimeoutMs?: number;
  /** How long one API call may take before it is given up and tried again (ms; default 15 000). */
  callTimeoutMs?: number;
  log?: (message: string) => void;
}

export class KubernetesDriver implements Driver {
  readonly name = "kubernetes";
  readonly stages = KUBERNETES_STAGES;
  readonly #options: KubernetesDriverOptions;
  readonly #namespace: string;
  readonly #log: (message: string) => void;
  readonly #links = new LinkRegistry();
  readonly #writes: ObjectWrites;
  readonly #workload: Workload;
  /** The sandboxes' workload objects (StatefulSets or agent-sandbox Sandboxes). */
  readonly #sets: WatchedObjects<KubernetesObject>;
  readonly #pods: WatchedObjects<V1Pod>;
  readonly #claims: WatchedObjects<V1PersistentVolumeClaim>;
  readonly #queue = new KeyedQueue();
  /** Woken by every change the driver can wait for (objects and links). */
  readonly #changed = new Set<() => void>();
  #endpoint?: LinkEndpoint;
  #linkPort?: number;
  #started?: Promise<void>;

  constructor(options: KubernetesDriverOptions) {
    this.#options = options;
    this.#namespace = options.pod.namespace;
    this.#log = options.log ?? (() => {});
    this.#writes = new ObjectWrites(options.kubeConfig, options.callTimeoutMs);
    this.#workload = workload(options.workload ?? "statefulset");
    const core = options.kubeConfig.makeApiClient(CoreV1Api);
    const namespace = this.#namespace;
    const labelSelector = installationSelector(options.pod.installation);
    const watched = this.#workload.watch(options.kubeConfig, namespace, labelSelector);
    this.#sets = new WatchedObjects(options.kubeConfig, watched.path, watched.list, labelSelector, this.#log);
    this.#pods = new WatchedObjects(
      options.kubeConfig,
      `/api/v1/namespaces/${namespace}/pods`,
      () => core.listNamespacedPod({ namespace, labelSelector }),
      labelSelector,
      this.#log,
    );
    this.#claims = new WatchedObjects(
      options.kubeConfig,
      `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
      () => core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector }),
      labelSelector,
      this.#log,
    );
    const wake = () => {
      for (const check of this.#changed) check();
    };
    this.#sets.onChange(wake);
    this.#pods.onChange(wake);
    this.#claims.onChange(wake);
    this.#links.onEvent(wake);
  }

  validate(spec: SandboxSpec): void {
    validateSpec(spec);
  }

  onLinkEvent(listener: (event: LinkEvent) => void): () => void {
    return this.#links.onEvent(listener);
  }

  /** Watches first (adoption needs them), then the link endpoint; idempotent. An API server
   *  that cannot be reached does not stop the start: the watches keep trying, and every
   *  operation waits (bounded) until they have listed what is there. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  /** Resolves once every watch has listed the cluster's objects; a DriverError naming the
   *  API server's failure when that does not happen within timeoutMs. */
  async #synced(signal?: AbortSignal, timeoutMs = SYNC_WAIT_MS): Promise<void> {
    await this.start();
    const watches = [this.#sets, this.#pods, this.#claims];
    if (watches.every((watch) => watch.isSynced)) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), timeoutMs);
    });
    const aborted = new Promise<never>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true }));
    try {
      if ((await Promise.race([Promise.all(watches.map((watch) => watch.synced)), late, aborted])) !== "late") return;
    } finally {
      clearTimeout(timer);
    }
    const why = watches.map((watch) => watch.lastError).find(Boolean) ?? "no answer";
    throw new DriverError(
      "SANDBOX_START_FAILED",
      `the Kubernetes API server cannot be read (${why}); check KUBECONFIG, the cluster and the Role's list/watch rights`,
      {
        details: { namespace: this.#namespace },
      },
    );
  }

  /** For the start-up banner: whether the cluster answers (checked again until it does). */
  async reachable(timeoutMs = 5_000): Promise<{ ok: true } | { ok: false; problem: string }> {
    try {
      await this.#synced(undefined, timeoutMs);
      return { ok: true };
    } catch (error) {
      return { ok: false, problem: (error as Error).message };
    }
  }

  async #start(): Promise<void> {
    await Promise.all([this.#sets.start(), this.#pods.start(), this.#claims.start()]);
    const { egress, tokenKey } = this.#options;
    this.#endpoint = new LinkEndpoint({
      host: this.#options.listen.host,
      port: this.#options.listen.port,
      // Always the link's own name, whatever the peer asks for: a peer must not get the
      // installation CA to sign certificates for names of its choosing.
      contextFor: () => this.#options.tlsContextFor(this.#options.pod.link.host),
      registry: this.#links,
      // Only sandboxes of this installation that exist may link; their token is derived.
      tokenFor: (sandboxId) => (SANDBOX_ID.test(sandboxId) && this.#set(sandboxId) ? Buffer.from(linkToken(tokenKey, sandboxId)) : null),
      bridge: (kind, sandboxId, socket) => egress.accept(kind, sandboxId, socket),
      log: this.#log,
    });
    const { port } = await this.#endpoint.listen();
    this.#linkPort = port;
    this.#log(
      `supervisor links: listening on ${this.#options.listen.host}:${port} (TLS); sandboxes dial ${this.#options.pod.link.host}:${this.#options.pod.link.port}`,
    );
  }

  /** Calls listener after every change the watches or the links deliver (inspect and list
   *  read the watches, so they reflect a change once it is delivered). */
  onChange(listener: () => void): () => void {
    this.#changed.add(listener);
    return () => this.#changed.delete(listener);
  }

  /** The port the link endpoint listens on (tests start it on port 0). */
  get linkPort(): number | undefined {
    return this.#linkPort;
  }

  async close(): Promise<void> {
    await this.#endpoint?.close();
    this.#links.closeAll("the control plane is stopping");
    await Promise.all([this.#sets.stop(), this.#pods.stop(), this.#claims.stop()]);
    for (const check of this.#changed) check();
  }

  connect(sandboxId: string, options: ConnectOptions = {}): Promise<SupervisorLink> {
    return connectLink(this.#links, sandboxId, options);
  }

  async ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle> {
    this.validate(spec);
    return this.#queue.run(spec.sandboxId, () => this.#ensure(spec, options));
  }

  async stop(sandboxId: string, options: StopOptions): Promise<void> {
    this.#assertId(sandboxId);
    return this.#queue.run(sandboxId, () => this.#stop(sandboxId, options.signal));
  }

  async remove(sandboxId: string, options: RemoveOptions): Promise<void> {
    this.#assertId(sandboxId);
    return this.#queue.run(sandboxId, () => this.#remove(sandboxId, options));
  }

  async inspect(sandboxId: string): Promise<SandboxInspection> {
    await this.#synced();
    const set = this.#set(sandboxId);
    const linked = this.#links.current(sandboxId) !== undefined;
    if (!set) return { state: "missing", linked: false };
    const pod = this.#pod(sandboxId);
    if (this.#workload.replicasOf(set) > 0 && supervisorRunning(pod)) return { state: "running", linked };
    const exit = lastExit(pod);
    return { state: "stopped", linked, ...(exit ? { lastExit: exit } : {}) };
  }

  async list(): Promise<string[]> {
    await this.#synced();
    return this.#sets
      .list(this.#namespace)
      .map((set) => set.metadata?.labels?.[SANDBOX_LABEL])
      .filter((id): id is string => typeof id === "string" && SANDBOX_ID.test(id))
      .sort();
  }

  #assertId(sandboxId: string): void {
    if (!SANDBOX_ID.test(sandboxId)) throw new DriverError("INVALID_SANDBOX_SPEC", `sandbox id '${sandboxId}' is not valid`);
  }

  #set(sandboxId: string): KubernetesObject | undefined {
    const set = this.#sets.get(objectName(sandboxId), this.#namespace);
    return set && set.metadata?.labels?.[SANDBOX_LABEL] === sandboxId && !set.metadata.deletionTimestamp ? set : undefined;
  }

  #pod(sandboxId: string): V1Pod | undefined {
    return this.#pods.get(this.#workload.podName(sandboxId), this.#namespace);
  }

  #claimsOf(sandboxId: string): V1PersistentVolumeClaim[] {
    return this.#claims.list(this.#namespace).filter((claim) => claim.metadata?.labels?.[SANDBOX_LABEL] === sandboxId && !claim.metadata.deletionTimestamp);
  }

  /** Resolves with check()'s first defined value, re-checked on every change; bounded. */
  #waitFor<T>(what: string, check: () => T | undefined, signal: AbortSignal, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const finish = (error: unknown, value?: T) => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        this.#changed.delete(evaluate);
        if (error) reject(error);
        else resolve(value as T);
      };
      const evaluate = () => {
        try {
          const value = check();
          if (value !== undefined) finish(undefined, value);
        } catch (error) {
          finish(error);
        }
      };
      const onAbort = () => finish(signal.reason);
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.#changed.add(evaluate);
      if (signal.aborted) onAbort();
      else evaluate();
    });
  }

  async #ensure(spec: SandboxSpec, { onStage, signal }: EnsureOptions): Promise<SandboxHandle> {
    await this.#synced(signal);
    signal.throwIfAborted();
    const timeoutMs = this.#options.readyTimeoutMs ?? 300_000;
    const existing = this.#set(spec.sandboxId);
    if (existing && this.#workload.replicasOf(existing) > 0 && supervisorRunning(this.#pod(spec.sandboxId))) {
      // Running: its supervisor is linked, or dials back within moments (this control
      // plane just started); nothing is written.
      const link = await this.connect(spec.sandboxId, { signal, timeoutMs: ADOPT_LINK_WAIT_MS }).catch(() => undefined);
      if (link) return this.#handle(spec, "adopted", link);
      this.#log(`sandbox ${spec.sandboxId}: its pod runs but its supervisor did not link within ${ADOPT_LINK_WAIT_MS} ms; starting it again`);
    }

    const reported = new Set<KubernetesStage>();
    let current: KubernetesStage | undefined;
    const advance = (stage: KubernetesStage, message?: string) => {
      // Stages are reported in order, each once; a later stage reached closes the earlier ones.
      for (const name of KUBERNETES_STAGES) {
        if (reported.has(name)) {
          if (name === stage) break;
          continue;
        }
        if (current && current !== name) onStage(current, "done");
        reported.add(name);
        current = name;
        onStage(name, "running", name === stage ? message : undefined);
        if (name === stage) break;
      }
    };
    let shown: string | undefined;
    const fail = (error: unknown): never => {
      if (current) onStage(current, "failed", (error as Error).message);
      throw error;
    };

    try {
      // An environment's image and setup are folders on the control plane's host (the local
      // driver's); here every sandbox runs the runtime image, and says so.
      advance(
        "volumes",
        spec.image ? `the environment's image ${spec.image.id} is not used on Kubernetes yet: the sandbox runs ${this.#options.pod.runtimeImage}` : undefined,
      );
      await this.#applyObjects(spec, existing, signal);
      await this.#waitFor("the sandbox's volume claims", () => (this.#claimsReady(spec) ? true : undefined), signal, timeoutMs);
      advance("pod scheduled");
      await this.#waitFor(
        "the sandbox's pod to start",
        () => {
          const pod = this.#pod(spec.sandboxId);
          const found = podProblem(pod);
          if (found?.fatal) throw this.#startFailed(spec.sandboxId, found.reason, found.message, found.hint);
          const done = stagesDone(pod);
          if (done.has("pod scheduled")) advance("init");
          if (done.has("init")) advance("supervisor");
          // What holds it up, while it may still clear (no room yet, a container restarting).
          const note = found ? `${found.reason}: ${found.message}` : undefined;
          if (note !== shown && current) {
            shown = note;
            onStage(current, "running", note);
          }
          return this.#links.current(spec.sandboxId) && supervisorRunning(pod) ? true : undefined;
        },
        signal,
        timeoutMs,
      ).catch(async (error) => {
        if (error instanceof DriverError || signal.aborted) throw error;
        throw await this.#whyNotReady(spec.sandboxId, timeoutMs);
      });
    } catch (error) {
      fail(error);
    }
    const link = await this.connect(spec.sandboxId, { signal, timeoutMs: 5000 }).catch(fail);
    if (current) onStage(current, "done");
    return this.#handle(spec, "started", link);
  }

  #handle(spec: SandboxSpec, outcome: "started" | "adopted", link: SupervisorLink): SandboxHandle {
    const pod = this.#pod(spec.sandboxId);
    return {
      sandboxId: spec.sandboxId,
      outcome,
      link,
      // A pod has no process limit of its own (the kubelet's is node-wide).
      unenforcedLimits: spec.limits?.pids !== undefined ? ["pids"] : [],
      driverState: {
        namespace: this.#namespace,
        [this.#workload.kind === "statefulset" ? "statefulSet" : "agentSandbox"]: objectName(spec.sandboxId),
        pod: pod?.metadata?.name ?? this.#workload.podName(spec.sandboxId),
        ...(pod?.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
      },
    };
  }

  /** The set (made at 0 replicas when new), what it owns, then 1 replica. A pod whose
   *  supervisor crashed is deleted, so its set makes a fresh one now rather than after the
   *  kubelet's back-off. */
  async #applyObjects(spec: SandboxSpec, existing: KubernetesObject | undefined, signal: AbortSignal): Promise<void> {
    const settings = this.#options.pod;
    let set = existing;
    if (!set) {
      const workspaceClaim = spec.workspaceFrom ? await this.#takeKeptWorkspace(spec, signal) : undefined;
      set = await this.#writes.apply(this.#workload.manifest(settings, spec, { replicas: 0, workspaceClaim }), signal);
    }
    const uid = set.metadata?.uid;
    if (!uid) throw new DriverError("SANDBOX_START_FAILED", `the API server returned the sandbox's ${this.#workload.objectKind} without a uid`);
    const owners = ownedBy({ apiVersion: this.#workload.apiVersion, kind: this.#workload.objectKind, name: objectName(spec.sandboxId), uid });
    const token = linkToken(this.#options.tokenKey, spec.sandboxId);
    await Promise.all([
      this.#writes.apply(tokenSecret(settings, spec, token, owners), signal),
      this.#writes.apply(caConfigMap(settings, spec, this.#options.egress, owners), signal),
      this.#writes.apply(networkPolicy(settings, spec, owners), signal),
    ]);
    const pod = this.#pod(spec.sandboxId);
    if (pod && !supervisorRunning(pod) && crashed(pod)) {
      this.#log(`sandbox ${spec.sandboxId}: its pod's supervisor ended; replacing the pod`);
      await this.#writes.delete(
        { apiVersion: "v1", kind: "Pod", metadata: { name: this.#workload.podName(spec.sandboxId), namespace: this.#namespace } },
        signal,
        {
          gracePeriodSeconds: 0,
        },
      );
      await this.#waitFor("the crashed pod to go", () => (this.#pod(spec.sandboxId)?.metadata?.uid === pod.metadata?.uid ? undefined : true), signal, 60_000);
    }
    if (this.#workload.replicasOf(set) !== 1) await this.#scale(spec.sandboxId, 1, signal);
  }

  #scale(sandboxId: string, replicas: 0 | 1, signal: AbortSignal) {
    const { apiVersion, objectKind } = this.#workload;
    return this.#writes.mergePatch(
      {
        apiVersion,
        kind: objectKind,
        metadata: { name: objectName(sandboxId), namespace: this.#namespace },
        spec: this.#workload.scaleTo(replicas),
      } as KubernetesObject,
      signal,
    );
  }

  /** Claims exist for every volume of the workload (they bind once the pod is scheduled,
   *  with WaitForFirstConsumer storage: binding is not waited for here). Its controller makes
   *  them before the pod, so a pod that exists has them. */
  #claimsReady(spec: SandboxSpec): boolean {
    const set = this.#set(spec.sandboxId);
    if (!set) return false;
    if (this.#pod(spec.sandboxId)) return true;
    const names = new Set(this.#claims.list(this.#namespace).map((claim) => claim.metadata?.name));
    return this.#workload.claimNames(set, spec.sandboxId).every((name) => names.has(name));
  }

  /** A kept workspace claim of a removed sandbox becomes this sandbox's (relabelled first,
   *  so a kill here leaves it findable under the new owner). */
  async #takeKeptWorkspace(spec: SandboxSpec, signal: AbortSignal): Promise<string | undefined> {
    const from = spec.workspaceFrom as string;
    const isWorkspace = (claim: V1PersistentVolumeClaim, owner: string) =>
      claim.metadata?.labels?.[SANDBOX_LABEL] === owner && claim.metadata.labels[VOLUME_LABEL] === "workspace" && !claim.metadata.deletionTimestamp;
    // Read fresh, not from the watch: the claim was relabelled by the remove that kept it,
    // possibly a moment ago, and a miss here would give the heir an empty workspace.
    const core = this.#options.kubeConfig.makeApiClient(CoreV1Api);
    const labelSelector = `${installationSelector(this.#options.pod.installation)},${VOLUME_LABEL}=workspace`;
    const listed = await call("list kept workspace claims", signal, () =>
      core.listNamespacedPersistentVolumeClaim({ namespace: this.#namespace, labelSelector }),
    );
    const claims = listed.items;
    const taken = claims.find((claim) => isWorkspace(claim, spec.sandboxId) && claim.metadata?.labels?.[KEPT_LABEL] === "taken");
    if (taken?.metadata?.name) return taken.metadata.name;
    const kept = claims.find((claim) => isWorkspace(claim, from) && claim.metadata?.labels?.[KEPT_LABEL] === "true");
    if (!kept?.metadata?.name) return undefined;
    await this.#writes.mergePatch(
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: kept.metadata.name, namespace: this.#namespace, labels: { [SANDBOX_LABEL]: spec.sandboxId, [KEPT_LABEL]: "taken" } },
      },
      signal,
    );
    return kept.metadata.name;
  }

  #startFailed(sandboxId: string, reason: string, message: string, hint: string): DriverError {
    return new DriverError("SANDBOX_START_FAILED", `the sandbox's pod did not start: ${reason}: ${message}; ${hint}`, {
      details: { reason, pod: this.#workload.podName(sandboxId), namespace: this.#namespace },
    });
  }

  /** The best reason there is for a pod that did not come up in time: its own status, else
   *  the cluster's latest warning event about it (FailedMount, FailedScheduling…). */
  async #whyNotReady(sandboxId: string, timeoutMs: number): Promise<DriverError> {
    const pod = this.#pod(sandboxId);
    const found = podProblem(pod);
    if (found) return this.#startFailed(sandboxId, found.reason, found.message, found.hint);
    try {
      const core = this.#options.kubeConfig.makeApiClient(CoreV1Api);
      const events = await call("list the pod's events", AbortSignal.timeout(10_000), () =>
        core.listNamespacedEvent({ namespace: this.#namespace, fieldSelector: `involvedObject.name=${this.#workload.podName(sandboxId)}` }),
      );
      const warning = events.items.filter((e) => e.type === "Warning").at(-1);
      if (warning?.reason) return this.#startFailed(sandboxId, warning.reason, warning.message ?? warning.reason, hintFor(warning.reason));
    } catch (error) {
      this.#log(`sandbox ${sandboxId}: could not read its pod's events: ${(error as Error).message}`);
    }
    if (pod && supervisorRunning(pod))
      return new DriverError(
        "SUPERVISOR_NOT_READY",
        `the sandbox's pod runs but its supervisor did not link within ${timeoutMs} ms; check that pods can reach ${this.#options.pod.link.host}:${this.#options.pod.link.port}`,
        {
          details: { pod: this.#workload.podName(sandboxId), namespace: this.#namespace },
        },
      );
    return this.#startFailed(sandboxId, "Timeout", `no running pod within ${timeoutMs} ms`, "see `kubectl describe pod` for the cluster's events");
  }

  async #releaseWorkspace(sandboxId: string, signal: AbortSignal): Promise<void> {
    for (const claim of this.#claimsOf(sandboxId)) {
      if (claim.metadata?.labels?.[VOLUME_LABEL] !== "workspace" || !claim.metadata.ownerReferences?.length) continue;
      await this.#writes.mergePatch(
        { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claim.metadata.name, namespace: this.#namespace, ownerReferences: [] } },
        signal,
      );
    }
  }

  async #stop(sandboxId: string, signal: AbortSignal): Promise<void> {
    await this.#synced(signal);
    const set = this.#set(sandboxId);
    if (!set) return;
    if (this.#workload.replicasOf(set) !== 0) await this.#scale(sandboxId, 0, signal);
    await this.#waitFor("the sandbox's pod to end", () => (this.#pod(sandboxId) ? undefined : true), signal, 120_000);
    this.#links.drop(sandboxId, "the sandbox was stopped");
  }

  async #remove(sandboxId: string, { keepWorkspace, signal }: RemoveOptions): Promise<void> {
    await this.#synced(signal);
    const name = objectName(sandboxId);
    const set = this.#set(sandboxId);
    if (set) {
      // A workload that owns its claims would take a kept workspace with it: released first.
      if (keepWorkspace && this.#workload.ownsClaims) await this.#releaseWorkspace(sandboxId, signal);
      // Owned objects (pod, Secret, ConfigMap, NetworkPolicy) go with the workload.
      const { apiVersion, objectKind } = this.#workload;
      await this.#writes.delete({ apiVersion, kind: objectKind, metadata: { name, namespace: this.#namespace } }, signal);
      await this.#waitFor(
        "the sandbox's workload and pod to go",
        () => (this.#sets.get(name, this.#namespace) || this.#pod(sandboxId) ? undefined : true),
        signal,
        120_000,
      );
    }
    this.#links.drop(sandboxId, "the sandbox was removed");
    const claims = this.#claimsOf(sandboxId).filter((claim) => claim.metadata?.labels?.[KEPT_LABEL] !== "true");
    for (const claim of claims) {
      const claimName = claim.metadata?.name as string;
      if (keepWorkspace && claim.metadata?.labels?.[VOLUME_LABEL] === "workspace") {
        await this.#writes.mergePatch(
          { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claimName, namespace: this.#namespace, labels: { [KEPT_LABEL]: "true" } } },
          signal,
        );
        continue;
      }
      await this.#writes.delete({ apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: claimName, namespace: this.#namespace } }, signal);
    }
  }
}

/** The supervisor's container ended (and is waiting out a back-off), rather than starting. */
function crashed(pod: V1Pod): boolean {
  const status = pod.status?.containerStatuses?.find((c) => c.name === "supervisor");
  return Boolean(status?.state?.terminated || status?.lastState?.terminated || status?.state?.waiting?.reason === "CrashLoopBackOff");
}
