// The scheduler and the kubelet of the one fake node. Scheduling: a pod without a node gets
// spec.nodeName and PodScheduled True, or stays Pending as Unschedulable (with an Event) while
// a test says scheduling fails. Kubelet: a pod on this node gets the finalizer
// `fake-kubelet/running` and a PodWorker running its containers; when the pod is being
// deleted its containers get SIGTERM, SIGKILL after the grace period, its volume files go,
// and the finalizer is removed so the object can go.
//
// The grace period is the pod's spec.terminationGracePeriodSeconds (default 30), or a shorter
// deletionGracePeriodSeconds when the API server recorded one above 0.
import { mkdirSync, rmSync } from "node:fs";
import { type ClusterContext, hostPaths } from "./context.ts";
import { recordEvent } from "./events.ts";
import { asPod, isTerminating, KEYS, type PodObject, stableJson, timestamp, update, withFinalizer, withoutFinalizer, writeStatus } from "./objects.ts";
import { PodWorker } from "./pod-worker.ts";

export const KUBELET_FINALIZER = "fake-kubelet/running";

export class NodeAgent {
  readonly #workers = new Map<string, PodWorker>();
  readonly #reported = new Set<string>();
  #unschedulable: string | null = null;
  #failingImage: string | null = null;
  #stopped = false;

  constructor(
    private readonly context: ClusterContext,
    private readonly imageFiles: Record<string, string>,
  ) {}

  failScheduling(message: string | null): void {
    this.#unschedulable = message;
  }

  failImagePull(image: string | null): void {
    this.#failingImage = image;
    this.wakeAll();
  }

  /** Something a waiting pod may need appeared (a claim bound, a secret, a pullable image). */
  wakeAll(): void {
    for (const worker of this.#workers.values()) worker.wake();
  }

  worker(podName: string): PodWorker | undefined {
    return this.#workers.get(podName);
  }

  async reconcile(name: string): Promise<void> {
    if (this.#stopped) return;
    const { api, namespace } = this.context;
    const found = api.get(KEYS.pods, namespace, name);
    const pod = found ? asPod(found) : undefined;
    const previous = this.#workers.get(name);
    if (previous && previous.uid !== pod?.metadata.uid) {
      // The pod went without us (or a new pod took its name): nothing of the old one may stay.
      await previous.kill();
      this.#workers.delete(name);
      rmSync(hostPaths.podVolumes(this.context.root, namespace, name), { recursive: true, force: true });
    }
    if (!pod || this.#stopped) return;
    if (!pod.spec?.nodeName) return this.#schedule(pod);
    if (pod.spec.nodeName !== this.context.nodeName) return;
    if (isTerminating(pod)) return this.#finish(pod);
    const worker = this.#workers.get(name);
    if (worker) return worker.update(pod);
    if (pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return;
    const current = (pod.metadata.finalizers ?? []).includes(KUBELET_FINALIZER)
      ? pod
      : update(api, KEYS.pods, pod, (copy) => withFinalizer(copy, KUBELET_FINALIZER));
    // A new pod of this name starts with fresh logs and volume files.
    rmSync(hostPaths.pod(this.context.root, namespace, name), { recursive: true, force: true });
    mkdirSync(hostPaths.pod(this.context.root, namespace, name), { recursive: true });
    const started = new PodWorker(this.context, current, { imageFiles: this.imageFiles, pullFails: (image) => image === this.#failingImage });
    this.#workers.set(name, started);
    started.start();
    this.context.log(`kubelet: pod ${name} started`);
  }

  async #finish(pod: PodObject): Promise<void> {
    const { api, namespace } = this.context;
    const name = pod.metadata.name;
    const worker = this.#workers.get(name);
    if (worker) {
      const requested = pod.metadata.deletionGracePeriodSeconds ?? 0;
      const configured = pod.spec?.terminationGracePeriodSeconds ?? 30;
      await worker.terminate(requested > 0 ? Math.min(requested, configured) : configured);
      if (this.#stopped) return;
      this.#workers.delete(name);
      this.context.log(`kubelet: pod ${name} stopped`);
    }
    rmSync(hostPaths.podVolumes(this.context.root, namespace, name), { recursive: true, force: true });
    const latest = api.get(KEYS.pods, namespace, name);
    if (latest?.metadata.uid === pod.metadata.uid && (latest.metadata.finalizers ?? []).includes(KUBELET_FINALIZER)) {
      update(api, KEYS.pods, latest, (copy) => withoutFinalizer(copy, KUBELET_FINALIZER));
    }
  }

  #schedule(pod: PodObject): void {
    const { api, namespace, nodeName } = this.context;
    const name = pod.metadata.name;
    if (this.#unschedulable !== null) {
      const message = this.#unschedulable;
      const condition = { type: "PodScheduled", status: "False", reason: "Unschedulable", message };
      const before = pod.status?.conditions?.find((item) => item.type === "PodScheduled");
      if (pod.status?.phase !== "Pending" || !before || stableJson({ ...before, lastTransitionTime: undefined }) !== stableJson(condition)) {
        writeStatus(api, KEYS.pods, namespace, name, { phase: "Pending", conditions: [{ ...condition, lastTransitionTime: timestamp() }] });
      }
      if (!this.#reported.has(`${pod.metadata.uid}\n${message}`)) {
        this.#reported.add(`${pod.metadata.uid}\n${message}`);
        recordEvent(this.context, pod, { reason: "FailedScheduling", message, component: "default-scheduler" });
      }
      return;
    }
    update(api, KEYS.pods, pod, (copy) => {
      copy.spec = { ...copy.spec!, nodeName };
    });
    writeStatus(api, KEYS.pods, namespace, name, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True", lastTransitionTime: timestamp() }] });
    this.context.log(`scheduler: pod ${name} bound to ${nodeName}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#workers.values()].map((worker) => worker.kill()));
  }
}
