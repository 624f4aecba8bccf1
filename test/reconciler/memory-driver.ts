// An in-memory Driver for the reconciler's tests: no processes, no sockets. Each sandbox is
// a record; ensure/stop/remove do what the tests script (succeed, fail with a code, or wait
// until released or aborted), and every call is counted, with the most that ran at once for
// one sandbox (two replicas must never act on the same sandbox together).
import type {
  ConnectOptions,
  Driver,
  EnsureOptions,
  RemoveOptions,
  SandboxHandle,
  SandboxInspection,
  SandboxSpec,
  StopOptions,
  SupervisorLink,
} from "../../src/drivers/driver.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { LinkEvent } from "../../src/supervisor/link/registry.ts";

export type Step = "ok" | { fail: string } | "hang";

interface Box {
  state: "running" | "stopped";
}

export class MemoryDriver implements Driver {
  readonly name = "memory";
  readonly stages = ["compute"] as const;
  readonly boxes = new Map<string, Box>();
  readonly calls: Array<{ verb: string; id: string }> = [];
  /** Scripted outcomes of the next ensure/stop calls, consumed in order ("ok" when empty). */
  readonly script: { ensure: Step[]; stop: Step[] } = { ensure: [], stop: [] };
  /** Signals of calls that hang, so a test can see them aborted. */
  readonly hanging: AbortSignal[] = [];
  #active = new Map<string, number>();
  maxConcurrent = 0;
  readonly #listeners = new Set<(event: LinkEvent) => void>();

  validate(): void {}

  async ensure(spec: SandboxSpec, options: EnsureOptions): Promise<SandboxHandle> {
    return this.#act("ensure", spec.sandboxId, this.script.ensure.shift() ?? "ok", options.signal, () => {
      const existed = this.boxes.get(spec.sandboxId)?.state === "running";
      options.onStage("compute", "running");
      this.boxes.set(spec.sandboxId, { state: "running" });
      options.onStage("compute", "done");
      return {
        sandboxId: spec.sandboxId,
        outcome: existed ? "adopted" : "started",
        link: this.#link(spec.sandboxId),
        unenforcedLimits: [],
        driverState: { memory: true },
      };
    });
  }

  async connect(sandboxId: string, _options?: ConnectOptions): Promise<SupervisorLink> {
    if (this.boxes.get(sandboxId)?.state !== "running") throw Object.assign(new Error("not connected"), { code: "SUPERVISOR_UNAVAILABLE" });
    return this.#link(sandboxId);
  }

  async stop(sandboxId: string, options: StopOptions): Promise<void> {
    return this.#act("stop", sandboxId, this.script.stop.shift() ?? "ok", options.signal, () => {
      const box = this.boxes.get(sandboxId);
      if (box) box.state = "stopped";
    });
  }

  async remove(sandboxId: string, options: RemoveOptions): Promise<void> {
    return this.#act("remove", sandboxId, "ok", options.signal, () => {
      this.boxes.delete(sandboxId);
    });
  }

  async inspect(sandboxId: string): Promise<SandboxInspection> {
    const box = this.boxes.get(sandboxId);
    if (!box) return { state: "missing", linked: false };
    return { state: box.state, linked: box.state === "running" };
  }

  async list(): Promise<string[]> {
    return [...this.boxes.keys()];
  }

  onLinkEvent(listener: (event: LinkEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: LinkEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  async start(): Promise<void> {}
  async close(): Promise<void> {}

  count(verb: string, id: string): number {
    return this.calls.filter((call) => call.verb === verb && call.id === id).length;
  }

  async #act<T>(verb: string, id: string, step: Step, signal: AbortSignal, work: () => T): Promise<T> {
    this.calls.push({ verb, id });
    const active = (this.#active.get(id) ?? 0) + 1;
    this.#active.set(id, active);
    this.maxConcurrent = Math.max(this.maxConcurrent, active);
    try {
      // A turn of the event loop, so that concurrent callers would overlap here.
      await new Promise((resolve) => setImmediate(resolve));
      if (step === "hang") {
        this.hanging.push(signal);
        await new Promise((_resolve, reject) => {
          if (signal.aborted) reject(signal.reason);
          signal.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      if (typeof step === "object") throw Object.assign(new Error(`scripted ${verb} failure`), { code: step.fail });
      signal.throwIfAborted();
      return work();
    } finally {
      this.#active.set(id, (this.#active.get(id) ?? 1) - 1);
    }
  }

  #link(sandboxId: string): SupervisorLink {
    const transport = {
      request: async () => ({
        status: 200,
        headers: { "x-outpost-supervisor-protocol": "2" },
        body: (async function* () {
          yield Buffer.from(JSON.stringify({ protocol: 2, supervisorVersion: "0.0.0", pid: 2, uptimeMs: 1 }));
        })(),
        close: () => {},
      }),
    };
    return {
      client: new SupervisorClient({ transport }),
      info: { sandboxId, protocol: 2, supervisorVersion: "0.0.0", capabilities: [], pid: 2, connectedAt: new Date() },
    };
  }
}

/** A clock the test moves by hand: scheduled callbacks run when their time has come. */
export class FakeClock {
  #now = 1_800_000_000_000;
  #timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];

  now(): number {
    return this.#now;
  }

  schedule(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + ms, fn, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Moves time forward and runs what became due, in time order. */
  advance(ms: number): void {
    this.#now += ms;
    const due = this.#timers.filter((t) => !t.cancelled && t.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#timers = this.#timers.filter((t) => !due.includes(t) && !t.cancelled);
    for (const timer of due) timer.fn();
  }

  /** When the earliest pending callback is due (ms from now), if any. */
  nextIn(): number | undefined {
    const pending = this.#timers.filter((t) => !t.cancelled).map((t) => t.at - this.#now);
    return pending.length ? Math.min(...pending) : undefined;
  }
}
