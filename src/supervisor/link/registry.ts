// Which supervisor links this control plane holds, one per sandbox. Whoever accepts
// connections (the local driver's per-sandbox sockets; the TLS endpoint pods dial on
// Kubernetes, tls-endpoint.ts) attaches verified sessions here; everything else asks for a sandbox's link
// by id and waits (bounded) when it is not there yet. A newer link for the same sandbox
// replaces the older one: a restarted supervisor reconnects before the old connection's
// end is noticed. Listeners hear every change, so drops and refusals become events.
import type { LinkRefusal } from "./accept.ts";
import type { LinkInfo, LinkSession } from "./session.ts";

export type LinkEvent =
  | { type: "up"; sandboxId: string; info: LinkInfo }
  | { type: "down"; sandboxId: string; reason: string }
  | { type: "refused"; sandboxId: string; refusal: LinkRefusal };

export class LinkWaitTimeout extends Error {
  readonly code = "SUPERVISOR_UNAVAILABLE";
  constructor(sandboxId: string, timeoutMs: number) {
    super(`the supervisor of ${sandboxId} did not connect within ${timeoutMs} ms`);
    this.name = "LinkWaitTimeout";
  }
}

export class LinkRegistry {
  readonly #links = new Map<string, LinkSession>();
  readonly #waiters = new Map<string, Set<(session: LinkSession) => void>>();
  readonly #listeners = new Set<(event: LinkEvent) => void>();

  attach(session: LinkSession): void {
    const id = session.info.sandboxId;
    const previous = this.#links.get(id);
    this.#links.set(id, session);
    previous?.close("replaced by a newer link from the same sandbox");
    this.#emit({ type: "up", sandboxId: id, info: session.info });
    for (const wake of this.#waiters.get(id) ?? []) wake(session);
    this.#waiters.delete(id);
    void session.closed.then((reason) => {
      if (this.#links.get(id) !== session) return;
      this.#links.delete(id);
      this.#emit({ type: "down", sandboxId: id, reason });
    });
  }

  refused(sandboxId: string, refusal: LinkRefusal): void {
    this.#emit({ type: "refused", sandboxId, refusal });
  }

  current(sandboxId: string): LinkSession | undefined {
    const session = this.#links.get(sandboxId);
    return session?.isOpen ? session : undefined;
  }

  /** The sandbox's link, waiting up to timeoutMs for it to connect. */
  wait(sandboxId: string, { signal, timeoutMs }: { signal?: AbortSignal; timeoutMs: number }): Promise<LinkSession> {
    const open = this.current(sandboxId);
    if (open) return Promise.resolve(open);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const waiters = this.#waiters.get(sandboxId) ?? new Set();
      this.#waiters.set(sandboxId, waiters);
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(sandboxId) === waiters) this.#waiters.delete(sandboxId);
      };
      const wake = (session: LinkSession) => {
        done();
        resolve(session);
      };
      const onAbort = () => {
        done();
        reject(signal?.reason);
      };
      const timer = setTimeout(() => {
        done();
        reject(new LinkWaitTimeout(sandboxId, timeoutMs));
      }, timeoutMs);
      waiters.add(wake);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Closes the sandbox's link (e.g. when the sandbox is stopped). */
  drop(sandboxId: string, reason: string): void {
    this.#links.get(sandboxId)?.close(reason);
  }

  onEvent(listener: (event: LinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#links.size;
  }

  closeAll(reason: string): void {
    for (const session of this.#links.values()) session.close(reason);
  }

  #emit(event: LinkEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
