// Calls to the API server, each with a deadline and retried when the failure is the
// server's or the network's (429, 5xx, a reset, a hang), never when it is ours (4xx):
// a flaky API server slows an ensure down but does not leave a half-made sandbox, since
// every call is idempotent (server-side apply, delete of what may be gone).
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi, PatchStrategy } from "@kubernetes/client-node";

const ATTEMPTS = 5;
const FIRST_RETRY_MS = 200;
export const CALL_TIMEOUT_MS = 15_000;
const FIELD_MANAGER = "outpost";

export class KubeCallError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "KubeCallError";
  }
}

/** The HTTP status of a client-node failure (ApiException.code), when there is one. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** The API server's own message (a Status body), bounded. */
function messageOf(error: unknown): string {
  const body = (error as { body?: unknown } | null)?.body;
  if (typeof body === "string") {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === "string") return parsed.message.slice(0, 300);
    } catch {
      return body.slice(0, 300);
    }
  }
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

const retryable = (status: number | undefined) => status === undefined || status === 429 || status >= 500;

export async function call<T>(what: string, signal: AbortSignal, work: () => Promise<T>, timeoutMs = CALL_TIMEOUT_MS): Promise<T> {
  let delay = FIRST_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    signal.throwIfAborted();
    try {
      return await withDeadline(work(), timeoutMs, what);
    } catch (error) {
      const status = statusOf(error);
      if (!retryable(status) || attempt >= ATTEMPTS) {
        throw new KubeCallError(`${what}: ${status ? `HTTP ${status}: ` : ""}${messageOf(error)}`, status, { cause: error });
      }
      await sleep(delay, signal);
      delay *= 2;
    }
  }
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} got no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** The driver's writes: server-side apply, merge patches and deletes of any kind. */
export class ObjectWrites {
  readonly #objects: KubernetesObjectApi;

  constructor(
    kubeConfig: KubeConfig,
    private readonly timeoutMs = CALL_TIMEOUT_MS,
  ) {
    this.#objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  /** Creates or updates the fields Outpost owns; other managers' fields are left alone. */
  apply<T extends KubernetesObject>(object: T, signal: AbortSignal): Promise<T> {
    return call(
      `apply ${object.kind} ${object.metadata?.name}`,
      signal,
      () => this.#objects.patch(object, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
      this.timeoutMs,
    );
  }

  mergePatch<T extends KubernetesObject>(object: T, signal: AbortSignal): Promise<T> {
    return call(
      `patch ${object.kind} ${object.metadata?.name}`,
      signal,
      () => this.#objects.patch(object, undefined, undefined, FIELD_MANAGER, undefined, PatchStrategy.MergePatch),
      this.timeoutMs,
    );
  }

  /** Deletes (dependents in the background); an object already gone is fine. */
  async delete(object: KubernetesObject, signal: AbortSignal, options: { gracePeriodSeconds?: number } = {}): Promise<void> {
    try {
      await call(
        `delete ${object.kind} ${object.metadata?.name}`,
        signal,
        () => this.#objects.delete(object, undefined, undefined, options.gracePeriodSeconds, undefined, "Background"),
        this.timeoutMs,
      );
    } catch (error) {
      if (error instanceof KubeCallError && error.status === 404) return;
      throw error;
    }
  }
}
