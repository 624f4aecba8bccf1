// One kind of the driver's objects, kept current by a watch (an informer): the driver reads
// state from memory, so sandboxes at rest cost no API requests, and waits for changes by
// event, never by polling. The informer relists by itself after a 410 (its resume point
// expired); after any other error (a dropped connection, a 500) it stops, so it is started
// again here with a capped back-off, for as long as the driver runs. Until its first list has
// succeeded the memory is not the cluster's state (an empty list would read as "no
// sandboxes"), so readers wait for `synced` first.
import { type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, makeInformer, type ObjectCache } from "@kubernetes/client-node";

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class WatchedObjects<T extends KubernetesObject> {
  readonly #informer: Informer<T> & ObjectCache<T>;
  readonly #listeners = new Set<(object: T, deleted: boolean) => void>();
  #stopped = false;
  #retryMs = RETRY_MIN_MS;
  #timer?: NodeJS.Timeout;
  #errors = 0;
  #lastError?: string;
  #isSynced = false;
  #markSynced!: () => void;
  /** Resolves once a list has succeeded (and stays resolved: later relists keep it current). */
  readonly synced = new Promise<void>((resolve) => {
    this.#markSynced = resolve;
  });

  constructor(
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    labelSelector: string,
    private readonly log: (message: string) => void,
  ) {
    this.#informer = makeInformer(kubeConfig, path, list, labelSelector);
    const changed = (deleted: boolean) => (object: T) => {
      this.#retryMs = RETRY_MIN_MS;
      for (const listener of this.#listeners) listener(object, deleted);
    };
    this.#informer.on("add", changed(false));
    this.#informer.on("update", changed(false));
    this.#informer.on("delete", changed(true));
    this.#informer.on("error", (error: unknown) => {
      this.#errors += 1;
      this.#lastError = describe(error);
      if (this.#stopped) return;
      this.log(`watch of ${path} failed (${this.#lastError}); watching again in ${this.#retryMs} ms`);
      const delay = this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
      this.#timer = setTimeout(() => void this.#start().catch(() => {}), delay);
      this.#timer.unref();
    });
  }

  /** Starts watching; resolves after the first attempt, successful or not (see `synced`). */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#start();
  }

  async #start(): Promise<void> {
    if (this.#stopped) return;
    const errorsBefore = this.#errors;
    await this.#informer.start();
    // The informer reports a failed list through its error listener, not by rejecting.
    if (this.#errors === errorsBefore && !this.#isSynced) {
      this.#isSynced = true;
      this.#markSynced();
    }
  }

  get isSynced(): boolean {
    return this.#isSynced;
  }

  /** Why the last list or watch failed, if one did. */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#informer.stop();
  }

  get(name: string, namespace: string): T | undefined {
    return this.#informer.get(name, namespace);
  }

  list(namespace: string): readonly T[] {
    return this.#informer.list(namespace);
  }

  onChange(listener: (object: T, deleted: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

export function describe(error: unknown): string {
  if (error && typeof error === "object") {
    const { code, message } = error as { code?: unknown; message?: unknown };
    if (typeof code === "number") return `HTTP ${code}`;
    // node-fetch: "request to <long URL> failed, reason: connect ECONNREFUSED …": the reason says it.
    if (typeof message === "string") return (/, reason: (.*)$/s.exec(message)?.[1] ?? message).slice(0, 200);
  }
  return String(error).slice(0, 200);
}
