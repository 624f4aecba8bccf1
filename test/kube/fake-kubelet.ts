// What a cluster does with the objects a Kubernetes client writes, for tests that run against
// the stand-in API server (fake-api-server.ts): StatefulSet, agent-sandbox Sandbox and
// PersistentVolumeClaim controllers, a scheduler, and a kubelet that really runs each pod's
// containers as local processes in bubblewrap, with volumes as folders under `root`. It is
// generic: it follows the pod spec; the only stand-in for an image is `imageFiles`.
// Everything goes through the API's in-process calls and its change feed; reconciles are
// serialized per object and never run inside the API call that announced the change.
// The pieces are in test/kube/fake-cluster/.
// Not simulated: probes (a running container is Ready), resource limits, Services and DNS,
// projected and downwardAPI volumes, an image's entrypoint (pods must give command or args).
import { isAbsolute } from "node:path";
import type { FakeKubeApi } from "./fake-api-server.ts";
import { ClaimController } from "./fake-cluster/claim-controller.ts";
import { BoundedLog, type ClusterContext, hostPaths } from "./fake-cluster/context.ts";
import { NodeAgent } from "./fake-cluster/node-agent.ts";
import { errorText, KEYS, type KubeObject } from "./fake-cluster/objects.ts";
import { SandboxController } from "./fake-cluster/sandbox-controller.ts";
import { SerialWork } from "./fake-cluster/serial-work.ts";
import { StatefulSetController } from "./fake-cluster/statefulset-controller.ts";

export { KUBELET_FINALIZER } from "./fake-cluster/node-agent.ts";

export interface FakeKubeletOptions {
  /** folders for volumes and pod files live under it */
  root: string;
  namespace: string;
  /** What an image holds, since nothing can be pulled here: every image is the host's root
   *  read-only plus these host folders bound at these paths (e.g. {"/opt/outpost": dist/opt-outpost}). */
  imageFiles: Record<string, string>;
  /** default "fake-node" */
  nodeName?: string;
  /** The first wait before a crashed container restarts (ms; default 50, a real node's is 10 000). */
  restartBackoffMs?: number;
}

export class FakeKubelet {
  readonly #lines = new BoundedLog();
  readonly #context: ClusterContext;
  readonly #claims: ClaimController;
  readonly #sets: StatefulSetController;
  readonly #sandboxes: SandboxController;
  readonly #node: NodeAgent;
  readonly #work = {
    claims: this.#serialWork("claim"),
    sets: this.#serialWork("statefulset"),
    sandboxes: this.#serialWork("sandbox"),
    pods: this.#serialWork("pod"),
  };
  #unsubscribe: (() => void) | undefined;

  constructor(
    private readonly api: FakeKubeApi,
    private readonly options: FakeKubeletOptions,
  ) {
    if (!isAbsolute(options.root)) throw new Error("FakeKubelet root must be an absolute path");
    this.#context = {
      api,
      namespace: options.namespace,
      root: options.root,
      nodeName: options.nodeName ?? "fake-node",
      restartBackOffMs: options.restartBackoffMs,
      log: (message) => this.#lines.add(message),
    };
    this.#claims = new ClaimController(this.#context);
    this.#sets = new StatefulSetController(this.#context);
    this.#sandboxes = new SandboxController(this.#context);
    this.#node = new NodeAgent(this.#context, options.imageFiles);
  }

  /** What the controllers and the kubelet did and what went wrong (bounded; print it when a test fails). */
  get log(): string[] {
    return this.#lines.lines;
  }

  start(): void {
    if (this.#unsubscribe) return;
    this.#unsubscribe = this.api.onChange((event) => {
      try {
        this.#route(event.key, event.object);
      } catch (error) {
        this.#context.log(`change handler: ${errorText(error)}`);
      }
    });
    const { namespace } = this.options;
    for (const key of [KEYS.claims, KEYS.statefulSets, KEYS.sandboxes, KEYS.pods]) {
      for (const object of this.api.list(key, namespace)) this.#route(key, object);
    }
  }

  /** Stops reacting and SIGKILLs every container it runs (a node going away: pods keep their
   *  finalizer). Resolves once all of them are gone. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await Promise.all(
      Object.values(this.#work)
        .map((work) => work.stop())
        .concat(this.#node.stop()),
    );
  }

  /** SIGKILLs a pod's running containers as a node or the OOM killer would. The pod reports it
   *  (lastState terminated, reason Error, or OOMKilled with oom: true) and the containers
   *  restart as restartPolicy says. Resolves once the exits are in the pod's status. */
  async crash(podName: string, options: { oom?: boolean } = {}): Promise<void> {
    const worker = this.#node.worker(podName);
    if (!worker) throw new Error(`pod ${podName} does not run on this node`);
    await worker.crash(options);
  }

  /** While set, new pods stay Pending: PodScheduled False, reason Unschedulable, this message. */
  failScheduling(message: string | null): void {
    this.#node.failScheduling(message);
    if (message === null) for (const pod of this.api.list(KEYS.pods, this.options.namespace)) this.#schedulePod(pod.metadata.name);
  }

  /** While set, containers of this image wait with ErrImagePull, then ImagePullBackOff. */
  failImagePull(image: string | null): void {
    this.#node.failImagePull(image);
  }

  /** The host folder of a PersistentVolumeClaim. */
  volumeDir(claimName: string): string {
    return this.#claims.folder(claimName);
  }

  /** Live host pids of a pod's running containers (bwrap and everything inside). */
  containerPids(podName: string): number[] {
    return this.#node.worker(podName)?.pids() ?? [];
  }

  /** The file a container's stdout and stderr go to. */
  logPath(podName: string, container: string): string {
    return hostPaths.containerLog(this.options.root, this.options.namespace, podName, container);
  }

  #route(key: string, object: KubeObject): void {
    if (object.metadata.namespace !== this.options.namespace) return;
    const name = object.metadata.name;
    switch (key) {
      case KEYS.statefulSets:
        this.#work.sets.schedule(name, () => this.#sets.reconcile(name));
        return;
      case KEYS.sandboxes:
        this.#work.sandboxes.schedule(name, () => this.#sandboxes.reconcile(name));
        return;
      case KEYS.claims:
        this.#work.claims.schedule(name, () => this.#claims.reconcile(name));
        this.#node.wakeAll();
        return;
      case KEYS.pods: {
        this.#schedulePod(name);
        const set = StatefulSetController.ownerOf(object);
        if (set) this.#work.sets.schedule(set, () => this.#sets.reconcile(set));
        const sandbox = SandboxController.ownerOf(object);
        if (sandbox) this.#work.sandboxes.schedule(sandbox, () => this.#sandboxes.reconcile(sandbox));
        for (const claim of this.#claims.terminatingClaims()) this.#work.claims.schedule(claim, () => this.#claims.reconcile(claim));
        return;
      }
      case KEYS.secrets:
      case KEYS.configMaps:
        this.#node.wakeAll();
        return;
    }
  }

  #schedulePod(name: string): void {
    this.#work.pods.schedule(name, () => this.#node.reconcile(name));
  }

  #serialWork(what: string): SerialWork {
    return new SerialWork((key, error) => this.#context.log(`${what} ${key}: ${errorText(error)} (retrying)`));
  }
}
