// What the kubelet remembers about one container of a pod between its runs (state, last
// termination, restart count, the process of the current run) and how that reads as a
// ContainerStatus in the pod's status.
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IContainerStatus } from "kubernetes-models/v1/ContainerStatus";
import type { ContainerProcess } from "./container-process.ts";
import { shortHash } from "./objects.ts";

export interface Terminated {
  exitCode: number;
  reason: "Completed" | "Error" | "OOMKilled";
  startedAt: string;
  finishedAt: string;
  containerID: string;
  signal?: number;
}

export type ContainerState = { waiting: { reason: string; message?: string } } | { running: { startedAt: string } } | { terminated: Terminated };

export class ContainerRecord {
  state: ContainerState;
  lastState: ContainerState | Record<string, never> = {};
  restartCount = 0;
  everStarted = false;
  /** the run loop has ended for good (restartPolicy says no more runs) */
  done = false;
  containerID = "";
  process: ContainerProcess | undefined;
  /** crash() says how the next exit is to be reported */
  killReason: "Error" | "OOMKilled" | undefined;
  #exitRecorded: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(
    readonly spec: IContainer,
    readonly init: boolean,
    waitingReason: string,
  ) {
    this.state = { waiting: { reason: waitingReason } };
  }

  get running(): boolean {
    return "running" in this.state;
  }

  get ready(): boolean {
    if (this.init) return "terminated" in this.state && this.state.terminated.reason === "Completed";
    return this.running;
  }

  /** A new run begins; resolves `exitRecorded` once its end is in the pod's status. */
  began(process: ContainerProcess, startedAt: string): void {
    if (this.everStarted) this.restartCount++;
    this.everStarted = true;
    this.process = process;
    this.containerID = `fake://${shortHash({ container: this.spec.name, startedAt, pid: process.pid, nonce: Math.random() }, 32)}`;
    this.state = { running: { startedAt } };
    let resolve = () => {};
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    this.#exitRecorded = { promise, resolve };
  }

  ended(terminated: Terminated): void {
    this.process = undefined;
    this.killReason = undefined;
    this.state = { terminated };
  }

  exitRecorded(): void {
    this.#exitRecorded?.resolve();
  }

  /** Resolves once the current run's end has been reported (at once when nothing runs). */
  whenExitRecorded(): Promise<void> {
    return this.process ? (this.#exitRecorded?.promise ?? Promise.resolve()) : Promise.resolve();
  }

  /** Waiting to run again: the last termination moves to lastState. */
  waitAfterExit(reason: string, message: string): void {
    if ("terminated" in this.state) this.lastState = this.state;
    this.state = { waiting: { reason, message } };
  }

  toStatus(): IContainerStatus {
    const image = this.spec.image ?? "";
    return {
      name: this.spec.name,
      image,
      imageID: this.everStarted ? `fake-registry.local/${image.split(":")[0]}@sha256:${shortHash(image, 64)}` : "",
      ...(this.containerID ? { containerID: this.containerID } : {}),
      ready: this.ready,
      restartCount: this.restartCount,
      started: this.running,
      state: this.state,
      lastState: this.lastState,
    } as IContainerStatus;
  }
}
