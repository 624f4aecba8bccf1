// One kind of the driver's objects, kept current by a watch (an informer): the driver reads
// state from memory, so sandboxes at rest cost no API requests, and waits for changes by
// event, never by polling. The informer relists by itself after a 410 (its resume point
// expired); after any other error (a dropped connection, a 500) it stops, so it is started
// again here with a capped back-off, for as long as the driver runs.
import { type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject, makeInformer, type ObjectCache } from "@kubernetes/client-node";

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class WatchedObjects<T extends KubernetesObject> {
  readonly #informer: Informer<T> & ObjectCache<T>;
  readonly #listeners = new Set<(object: T, deleted: boolean) => void>();
  #stopped = false;
  #retryMs = RETRY_MIN_MS;
  #timer?: NodeJS.Timeout;

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
      if (this.#stopped) return;
      this.log(`watch of ${path} failed (${describe(error)}); watching again in ${this.#retryMs} ms`);
      const delay = this.#retryMs;
      this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
      this.#timer = setTimeout(() => void this.#start().catch(() => {}), delay);
      this.#timer.unref();
    });
  }

  /** Resolves once the first list is in memory. */
  async start(): Promise<void> {
    this.#stopped = false;
    await this.#start();
  }

  #start(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return this.#informer.start();
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
    if (typeof message === "string") return message.slice(0, 200);
  }
  return String(error).slice(0, 200);
}
