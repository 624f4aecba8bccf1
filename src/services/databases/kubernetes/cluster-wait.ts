// Waiting on one object (a database's Cluster) until its state decides something: ready,
// failed, gone. List-then-watch by name, as controllers do, so no change between the look
// and the watch is missed; a watch that ends (its timeout, a dropped connection, history
// expired: 410 Gone) is followed by a fresh list and watch. Bounded only by the caller's
// signal: when it aborts, the caller's `onStop` turns the last state seen into the error,
// so "never became ready" says what the operator last reported.
import { setTimeout as delay } from "node:timers/promises";
import { CustomObjectsApi, type KubeConfig, Watch } from "@kubernetes/client-node";
import type { KubeObject } from "./manifests.ts";

export interface WatchedObject {
  /** e.g. "apps.kubeblocks.io/v1" */
  apiVersion: string;
  plural: string;
  namespace: string;
  name: string;
}

export interface WaitOptions<T> {
  signal: AbortSignal;
  /** The outcome for the object as it now is (undefined: there is none); undefined to keep waiting. May throw. */
  decide: (object: KubeObject | undefined) => T | undefined;
  /** The error to reject with when the signal aborts, from the last state seen. */
  onStop: (last: KubeObject | undefined, reason: unknown) => Error;
  /** Seconds a watch request lasts before it is renewed (the server ends it). */
  watchSeconds?: number;
}

/** Pause after a failed list or watch before the next try (the API server away). */
const RETRY_MS = 1000;
/** How long the last look after an abort may take (its answer goes into the error). */
const LAST_LOOK_MS = 3000;

type ObjectList = { items: KubeObject[]; metadata?: { resourceVersion?: string } };

/** Waits until `decide` returns something for the object, watching it between looks. */
export async function waitForObject<T>(kc: KubeConfig, target: WatchedObject, options: WaitOptions<T>): Promise<T> {
  const { signal } = options;
  const [group, version] = splitApiVersion(target.apiVersion);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const watch = new Watch(kc);
  const fieldSelector = `metadata.name=${target.name}`;
  const look = () =>
    custom.listNamespacedCustomObject({ group, version, namespace: target.namespace, plural: target.plural, fieldSelector }) as Promise<ObjectList>;
  let last: KubeObject | undefined;
  // Stopped: one more look, so the error tells the state now, not the last one a watch delivered.
  const stopped = async () => {
    const now = await Promise.race([look(), delay(LAST_LOOK_MS, undefined, { ref: false }).then(() => undefined)]).catch(() => undefined);
    if (now) last = now.items[0];
    return options.onStop(last, signal.reason);
  };
  for (let failures = 0; ; ) {
    if (signal.aborted) throw await stopped();
    let resourceVersion: string;
    try {
      const list = await look();
      last = list.items[0];
      resourceVersion = list.metadata?.resourceVersion ?? "";
    } catch {
      if (signal.aborted) throw await stopped();
      failures++;
      await pause(failures, signal);
      continue;
    }
    const decided = options.decide(last);
    if (decided !== undefined) return decided;
    const path = `/apis/${group}/${version}/namespaces/${target.namespace}/${target.plural}`;
    const query = { fieldSelector, resourceVersion, timeoutSeconds: options.watchSeconds ?? 300, allowWatchBookmarks: true };
    const pass = await watchPass(watch, path, query, signal, (type, object) => {
      last = type === "DELETED" ? undefined : object;
      return options.decide(last);
    });
    if ("outcome" in pass) return pass.outcome;
    if (signal.aborted) throw await stopped();
    // A watch that failed to start or broke is retried after a pause; one that simply ended is renewed at once.
    failures = pass.failed ? failures + 1 : 0;
    if (pass.failed) await pause(failures, signal);
  }
}

function splitApiVersion(apiVersion: string): [string, string] {
  const slash = apiVersion.indexOf("/");
  if (slash < 0) throw new Error(`${apiVersion} is a core API version; waitForObject watches custom objects`);
  return [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

async function pause(failures: number, signal: AbortSignal): Promise<void> {
  await delay(Math.min(RETRY_MS * failures, 10_000), undefined, { signal }).catch(() => {});
}

type PassResult<T> = { outcome: T } | { failed: boolean };

/** One watch request: resolves with an outcome, or when the stream ends (failed: it broke or was refused). */
function watchPass<T>(
  watch: Watch,
  path: string,
  query: Record<string, string | number | boolean>,
  signal: AbortSignal,
  onEvent: (type: string, object: KubeObject) => T | undefined,
): Promise<PassResult<T>> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let controller: AbortController | undefined;
    const finish = (action: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      controller?.abort();
      action();
    };
    const onAbort = () => finish(() => resolve({ failed: false }));
    signal.addEventListener("abort", onAbort, { once: true });
    watch
      .watch(
        path,
        query,
        (type: string, object: KubeObject & { code?: number }) => {
          if (settled) return;
          // History expired (410 Gone) or another error: end this pass; the caller lists again.
          if (type === "ERROR") return finish(() => resolve({ failed: object.code !== 410 }));
          if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED") return;
          try {
            const outcome = onEvent(type, object);
            if (outcome !== undefined) finish(() => resolve({ outcome }));
          } catch (error) {
            finish(() => reject(error));
          }
        },
        (error: unknown) => finish(() => resolve({ failed: error != null })),
      )
      .then((started) => {
        controller = started;
        if (settled) started.abort();
      })
      .catch(() => finish(() => resolve({ failed: true })));
  });
}
