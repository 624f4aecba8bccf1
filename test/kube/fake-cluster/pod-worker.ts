// The kubelet's work for one pod on this node, from volumes to termination: set up the
// volumes (waiting while a claim is unbound or a secret missing), run the init containers one
// after another to completion, then keep every container running as restartPolicy says, with
// back-off between restarts; report each step in the pod's status. Readiness, liveness and
// startup probes are not run: a container is Ready while its process runs.
import type { IContainer } from "kubernetes-models/v1/Container";
import { BackOff, Wakeable } from "./back-off.ts";
import { ContainerProcess } from "./container-process.ts";
import { ContainerRecord, type Terminated } from "./container-record.ts";
import { type ClusterContext, hostPaths } from "./context.ts";
import { recordEvent } from "./events.ts";
import { asPod, errorText, KEYS, type PodObject, stableJson, timestamp, writeStatus } from "./objects.ts";
import { ContainerConfigError, containerEnv, expandCommand } from "./pod-env.ts";
import { podStatus } from "./pod-status.ts";
import { containerMounts, type HostVolume, prepareVolumes } from "./pod-volumes.ts";
import { bwrapArgs } from "./sandbox-args.ts";

export interface WorkerOptions {
  imageFiles: Record<string, string>;
  /** true while pulling this image is to fail (FakeKubelet.failImagePull) */
  pullFails(image: string): boolean;
}

/** A run that lasted this long starts its container's back-off afresh (a node: 10 minutes). */
const RESET_BACK_OFF_AFTER_MS = 10_000;

export class PodWorker {
  readonly uid: string;
  readonly name: string;
  readonly #inits: ContainerRecord[];
  readonly #mains: ContainerRecord[];
  readonly #wakeable = new Wakeable();
  readonly #startTime = timestamp();
  readonly #reported = new Set<string>();
  #pod: PodObject;
  #stopping = false;
  #initialized = false;
  #initFailed = false;
  #lastPublished = "";
  #lifecycle: Promise<void> = Promise.resolve();

  constructor(
    private readonly context: ClusterContext,
    pod: PodObject,
    private readonly options: WorkerOptions,
  ) {
    this.#pod = pod;
    this.uid = pod.metadata.uid;
    this.name = pod.metadata.name;
    const inits = pod.spec?.initContainers ?? [];
    this.#inits = inits.map((spec, index) => new ContainerRecord(spec, true, index === 0 ? "ContainerCreating" : "PodInitializing"));
    this.#mains = (pod.spec?.containers ?? []).map((spec) => new ContainerRecord(spec, false, inits.length ? "PodInitializing" : "ContainerCreating"));
  }

  start(): void {
    this.#lifecycle = this.#run().catch((error) => this.context.log(`pod ${this.name}: ${errorText(error)}`));
  }

  /** The pod object changed (its labels and annotations feed fieldRef env on the next start). */
  update(pod: PodObject): void {
    this.#pod = pod;
  }

  wake(): void {
    this.#wakeable.wake();
  }

  pids(): number[] {
    return [...this.#inits, ...this.#mains].flatMap((record) => record.process?.pids() ?? []);
  }

  /** SIGKILLs every running container, as a node or the OOM killer would; resolves once the
   *  pod's status reports the exits. The containers then restart as their policy says. */
  async crash(options: { oom?: boolean } = {}): Promise<void> {
    const running = [...this.#inits, ...this.#mains].filter((record) => record.process);
    for (const record of running) {
      record.killReason = options.oom ? "OOMKilled" : "Error";
      record.process?.kill();
    }
    await Promise.all(running.map((record) => record.whenExitRecorded()));
  }

  /** Graceful stop: SIGTERM, then SIGKILL after the grace period; resolves when all is gone. */
  async terminate(graceSeconds: number): Promise<void> {
    this.#stopping = true;
    this.#wakeable.wake();
    const running = [...this.#inits, ...this.#mains].flatMap((record) => (record.process ? [record.process] : []));
    for (const process of running) process.terminate();
    const exited = Promise.all(running.map((process) => process.exited));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<"grace over">((resolve) => {
      timer = setTimeout(() => resolve("grace over"), graceSeconds * 1000);
    });
    if ((await Promise.race([exited, graceOver])) === "grace over") {
      this.context.log(`pod ${this.name}: grace period of ${graceSeconds}s over, killing`);
      for (const process of running) process.kill();
    }
    clearTimeout(timer);
    await exited;
    await this.#lifecycle;
  }

  /** Immediate stop (kubelet shutdown, or the pod object vanished). */
  async kill(): Promise<void> {
    this.#stopping = true;
    this.#wakeable.wake();
    for (const record of [...this.#inits, ...this.#mains]) record.process?.kill();
    await this.#lifecycle;
  }

  async #run(): Promise<void> {
    this.#publish();
    const volumes = await this.#setUpVolumes();
    if (!volumes) return;
    for (const record of this.#inits) {
      if (!(await this.#runInit(record, volumes))) return;
    }
    this.#initialized = true;
    this.#publish();
    await Promise.all(this.#mains.map((record) => this.#keepRunning(record, volumes)));
  }

  async #setUpVolumes(): Promise<Map<string, HostVolume> | undefined> {
    const backOff = new BackOff();
    while (!this.#stopping) {
      try {
        return prepareVolumes(this.context, this.#pod);
      } catch (error) {
        this.#warnOnce("FailedMount", `MountVolume.SetUp failed: ${errorText(error)}`);
        await this.#wakeable.sleep(backOff.step());
      }
    }
    return undefined;
  }

  /** Runs an init container until it succeeds; false when the pod will not go on. */
  async #runInit(record: ContainerRecord, volumes: Map<string, HostVolume>): Promise<boolean> {
    const backOff = new BackOff();
    while (!this.#stopping) {
      const exit = await this.#runOnce(record, volumes);
      if (exit === undefined) return false;
      if (exit.exitCode === 0) return true;
      if (this.#pod.spec?.restartPolicy === "Never") {
        this.#initFailed = true;
        this.#publish();
        return false;
      }
      await this.#backOff(record, backOff);
    }
    return false;
  }

  async #keepRunning(record: ContainerRecord, volumes: Map<string, HostVolume>): Promise<void> {
    const backOff = new BackOff(this.context.restartBackOffMs);
    const policy = this.#pod.spec?.restartPolicy ?? "Always";
    while (!this.#stopping) {
      const startedAt = Date.now();
      const exit = await this.#runOnce(record, volumes);
      if (exit === undefined || this.#stopping) return;
      if (policy === "Never" || (policy === "OnFailure" && exit.exitCode === 0)) {
        record.done = true;
        this.#publish();
        return;
      }
      if (Date.now() - startedAt > RESET_BACK_OFF_AFTER_MS) backOff.reset();
      await this.#backOff(record, backOff);
    }
  }

  async #backOff(record: ContainerRecord, backOff: BackOff): Promise<void> {
    const delay = backOff.step();
    record.waitAfterExit(
      "CrashLoopBackOff",
      `back-off ${delay}ms restarting failed container=${record.spec.name} pod=${this.name}_${this.context.namespace}(${this.uid})`,
    );
    this.#publish();
    await this.#wakeable.sleep(delay);
  }

  /** One run of a container: pull, configure, start, wait for the exit and report it.
   *  undefined when the pod is stopping before the container could start. */
  async #runOnce(record: ContainerRecord, volumes: Map<string, HostVolume>): Promise<Terminated | undefined> {
    const backOff = new BackOff();
    let started: { process: ContainerProcess; startedAt: string } | undefined;
    let pullAttempts = 0;
    while (!started) {
      if (this.#stopping) return undefined;
      const image = record.spec.image ?? "";
      if (this.options.pullFails(image)) {
        const first = pullAttempts++ === 0;
        record.waitAfterExit(first ? "ErrImagePull" : "ImagePullBackOff", first ? `failed to pull image "${image}"` : `Back-off pulling image "${image}"`);
        if (first) this.#warnOnce("Failed", `Failed to pull image "${image}"`);
        this.#publish();
        await this.#wakeable.sleep(backOff.step());
        continue;
      }
      try {
        started = this.#start(record.spec, volumes);
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        record.waitAfterExit("CreateContainerConfigError", error.message);
        this.#publish();
        await this.#wakeable.sleep(backOff.step());
      }
    }
    record.began(started.process, started.startedAt);
    this.#publish();
    const exit = await started.process.exited;
    const reason = record.killReason ?? (exit.exitCode === 0 ? "Completed" : "Error");
    const terminated: Terminated = {
      exitCode: reason === "OOMKilled" ? 137 : exit.exitCode,
      reason,
      startedAt: started.startedAt,
      finishedAt: timestamp(),
      containerID: record.containerID,
      ...(exit.signal ? { signal: exit.exitCode - 128 } : {}),
    };
    record.ended(terminated);
    this.#publish();
    record.exitRecorded();
    this.context.log(`pod ${this.name}: container ${record.spec.name} exited ${terminated.exitCode} (${reason})`);
    return terminated;
  }

  #start(container: IContainer, volumes: Map<string, HostVolume>): { process: ContainerProcess; startedAt: string } {
    const security = { ...(this.#pod.spec?.securityContext ?? {}), ...(container.securityContext ?? {}) };
    const uid = security.runAsUser ?? 0;
    const gid = security.runAsGroup ?? uid;
    const env = containerEnv(this.context, this.#pod, container, uid);
    const command = expandCommand(container, env);
    if (command.length === 0) throw new ContainerConfigError("no command: an image's entrypoint is not simulated, give command or args");
    const args = bwrapArgs({
      imageFiles: this.options.imageFiles,
      mounts: containerMounts(container, volumes, env),
      hostname: this.#pod.spec?.hostname ?? this.name,
      command,
      ...(container.workingDir ? { workingDir: container.workingDir } : {}),
      ...(uid !== 0 ? { user: { uid, gid } } : {}),
    });
    const logPath = hostPaths.containerLog(this.context.root, this.context.namespace, this.name, container.name);
    return { process: ContainerProcess.start({ args, env, logPath }), startedAt: timestamp() };
  }

  /** Writes the pod's status if it changed, unless the pod object is no longer this pod. */
  #publish(): void {
    const current = this.context.api.get(KEYS.pods, this.context.namespace, this.name);
    if (current?.metadata.uid !== this.uid) return;
    const status = podStatus({
      pod: asPod(current),
      inits: this.#inits,
      mains: this.#mains,
      initialized: this.#initialized || this.#inits.length === 0,
      initFailed: this.#initFailed,
      startTime: this.#startTime,
    });
    const text = stableJson(status);
    if (text === this.#lastPublished) return;
    try {
      writeStatus(this.context.api, KEYS.pods, this.context.namespace, this.name, status);
      this.#lastPublished = text;
    } catch (error) {
      this.context.log(`pod ${this.name}: status not written: ${errorText(error)}`);
    }
  }

  #warnOnce(reason: string, message: string): void {
    this.context.log(`pod ${this.name}: ${reason}: ${message}`);
    if (this.#reported.has(`${reason}\n${message}`)) return;
    this.#reported.add(`${reason}\n${message}`);
    recordEvent(this.context, this.#pod, { reason, message, component: "kubelet" });
  }
}
