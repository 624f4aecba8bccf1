// Sandbox phases from the control plane's event stream (GET /api/v1/events, SSE), so the
// environments bench learns that a sandbox runs when the control plane says so, without
// polling (a poll adds up to its period to every figure and load to the machine). Every
// phase seen is kept per sandbox, so a wait that starts after its event (a warm claim can
// reach `running` before the create's own answer is read) still finds it. Also kept: when
// each stage first reported `running` (the event's createdAt), because the sandbox's own
// record restamps a stage's startedAt at each progress line (a build's log lines), which
// would hide the build in the gap before the stage.
import { type ClientRequest, type IncomingMessage, request } from "node:http";

/** One `sandbox.phase` event as it arrived. */
export interface PhaseSeen {
  phase: string;
  /** performance.now() when the bench read it. */
  at: number;
}

interface Waiter {
  phases: readonly string[];
  resolve: (seen: PhaseSeen) => void;
  reject: (error: Error) => void;
}

export class PhaseWatch {
  readonly #seen = new Map<string, PhaseSeen[]>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #stageStarts = new Map<string, Map<string, number>>();
  #request?: ClientRequest;
  #ended?: Error;

  /** Opens the stream; resolves once the control plane answered 200 (from then on nothing is missed). */
  async open(url: string, token: string): Promise<void> {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      this.#request = request(`${url}/api/v1/events`, { agent: false, headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" } }, resolve);
      this.#request.on("error", (error) => {
        reject(error);
        this.#end(error);
      });
      this.#request.end();
    });
    if (response.statusCode !== 200) throw new Error(`GET /api/v1/events → ${response.statusCode}`);
    // The stream is ASCII JSON; latin1 keeps chunk boundaries from splitting characters.
    let buffer = "";
    response.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("latin1");
      for (let boundary = buffer.indexOf("\n\n"); boundary !== -1; boundary = buffer.indexOf("\n\n")) {
        this.#frame(buffer.slice(0, boundary));
        buffer = buffer.slice(boundary + 2);
      }
    });
    response.on("end", () => this.#end(new Error("the event stream ended")));
    response.on("error", (error) => this.#end(error));
  }

  /** Resolves with the first of `phases` (or `failed`) seen for this sandbox, seen already or to come. */
  wait(sandboxId: string, phases: readonly string[], timeoutMs: number): Promise<PhaseSeen> {
    const wanted = [...phases, "failed"];
    const earlier = this.#seen.get(sandboxId)?.find((seen) => wanted.includes(seen.phase));
    if (earlier) return Promise.resolve(earlier);
    if (this.#ended) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        list.splice(list.indexOf(waiter), 1);
        reject(new Error(`sandbox ${sandboxId}: no ${phases.join("|")} event within ${timeoutMs} ms (seen: ${this.phases(sandboxId).join(", ") || "none"})`));
      }, timeoutMs);
      const waiter: Waiter = {
        phases: wanted,
        resolve: (seen) => {
          clearTimeout(timer);
          resolve(seen);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const list = this.#waiters.get(sandboxId) ?? [];
      list.push(waiter);
      this.#waiters.set(sandboxId, list);
    });
  }

  /** Per stage of a sandbox: when it first reported running (ms since the epoch, the server's clock). */
  stageStarts(sandboxId: string): ReadonlyMap<string, number> {
    return this.#stageStarts.get(sandboxId) ?? new Map();
  }

  /** The phases seen for a sandbox, in order. */
  phases(sandboxId: string): string[] {
    return (this.#seen.get(sandboxId) ?? []).map((seen) => seen.phase);
  }

  close(): void {
    this.#request?.destroy();
  }

  #frame(text: string): void {
    let type = "";
    let data = "";
    for (const line of text.split("\n")) {
      if (line.startsWith("event: ")) type = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if ((type !== "sandbox.phase" && type !== "sandbox.stage") || !data) return;
    const event = JSON.parse(data) as { createdAt: string; data?: { sandboxId?: string; phase?: string; stage?: string; state?: string } };
    const id = event.data?.sandboxId;
    const phase = event.data?.phase;
    if (!id || !phase) return;
    if (type === "sandbox.stage") {
      const stage = event.data?.stage;
      const starts = this.#stageStarts.get(id) ?? new Map<string, number>();
      if (stage && event.data?.state === "running" && !starts.has(stage)) starts.set(stage, Date.parse(event.createdAt));
      this.#stageStarts.set(id, starts);
      return;
    }
    const seen = { phase, at: performance.now() };
    this.#seen.set(id, [...(this.#seen.get(id) ?? []), seen]);
    const waiters = this.#waiters.get(id) ?? [];
    for (const waiter of waiters.filter((w) => w.phases.includes(phase))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(seen);
    }
  }

  /** A stream that ended fails the waits at once rather than at their timeouts. */
  #end(error: Error): void {
    this.#ended ??= error;
    for (const waiters of this.#waiters.values()) for (const waiter of waiters.splice(0)) waiter.reject(error);
  }
}
