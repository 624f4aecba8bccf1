// What every simulated controller is handed: the API it acts through, the one namespace it
// looks after, where its folders live, and a bounded log (handlers never throw; they say
// what went wrong here so a failing test can print it).
import { join } from "node:path";
import type { FakeKubeApi } from "../fake-api-server.ts";

export interface ClusterContext {
  api: FakeKubeApi;
  namespace: string;
  root: string;
  nodeName: string;
  /** The first wait before a crashed container restarts (default: the sped-up 50 ms). */
  restartBackOffMs?: number;
  log(message: string): void;
}

export class BoundedLog {
  readonly lines: string[] = [];
  constructor(private readonly limit = 1000) {}

  add(message: string): void {
    this.lines.push(`${new Date().toISOString()} ${message}`);
    if (this.lines.length > this.limit) this.lines.splice(0, this.lines.length - this.limit);
  }
}

/** Host folders, all under the kubelet's root. */
export const hostPaths = {
  claim: (root: string, namespace: string, claim: string) => join(root, "volumes", namespace, claim),
  pod: (root: string, namespace: string, pod: string) => join(root, "pods", namespace, pod),
  podVolumes: (root: string, namespace: string, pod: string) => join(root, "pods", namespace, pod, "volumes"),
  containerLog: (root: string, namespace: string, pod: string, container: string) => join(root, "pods", namespace, pod, `${container}.log`),
};
