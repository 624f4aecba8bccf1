// Writes what the egress proxy decided, off the connection's path: decisions queue here and
// a flush every `flushMs` inserts them in one statement, fills in the bytes of connections
// that ended, and appends the events. Denials become `egress.denied` events (one per
// sandbox, host and port per flush, with a count); allowed connections only a summary per
// sandbox at most every `allowedEventWindowMs` (`egress.allowed`), so one `npm install`
// is one event, not hundreds. Running totals feed /metrics.
import { EventEmitter } from "node:events";
import type pg from "pg";
import { withTransaction } from "../store/database.ts";
import { type EgressEnd, type EgressRecord, finishEgressRecords, insertEgressRecords, pruneEgress } from "../store/egress.ts";
import { appendEvent } from "../store/events.ts";

export interface Decision extends EgressRecord {
  /** Who the events are attributed to: the project's creator (no user acted). */
  ownerId: string;
  sandboxName: string;
}

/** One connection's entry: ended once, when the connection closes. */
export interface EgressHandle {
  end(totals: { bytesUp: number; bytesDown: number; address?: string | null }): void;
}

export interface EgressTotals {
  allowed: number;
  denied: number;
  bytesUp: number;
  bytesDown: number;
}

const RETENTION_MS = 30 * 24 * 3600 * 1000;
const MAX_QUEUE = 50_000;
const TOP_HOSTS = 20;

interface Pending {
  decision: Decision;
  id?: number;
  end?: EgressEnd;
}

interface AllowedSummary {
  ownerId: string;
  projectId: string;
  sandboxName: string;
  connections: number;
  hosts: Map<string, number>;
  lastEmitted: number;
}

export class EgressRecorder {
  readonly totals: EgressTotals = { allowed: 0, denied: 0, bytesUp: 0, bytesDown: 0 };
  readonly #flushed = new EventEmitter();
  #queue: Pending[] = [];
  #ended: Pending[] = [];
  readonly #allowed = new Map<string, AllowedSummary>();
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> = Promise.resolve();
  #lastPrune = 0;
  #dropped = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: { flushMs?: number; allowedEventWindowMs?: number; log: (message: string) => void; now?: () => number },
  ) {
    this.#flushed.setMaxListeners(0);
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.options.flushMs ?? 500);
    this.#timer.unref();
  }

  /** Queues a decision; the handle fills in what the connection carried when it ends. */
  record(decision: Decision): EgressHandle {
    if (decision.allowed) this.totals.allowed += 1;
    else this.totals.denied += 1;
    // An environment's build sandbox belongs to no project: counted, not kept (its log has what it fetched).
    if (decision.projectId === "") return { end: () => {} };
    const pending: Pending = { decision };
    // A sandbox opening connections in a loop faster than the store takes them: count, drop.
    if (this.#queue.length < MAX_QUEUE) this.#queue.push(pending);
    else this.#dropped += 1;
    let ended = false;
    return {
      end: ({ bytesUp, bytesDown, address }) => {
        if (ended) return;
        ended = true;
        this.totals.bytesUp += bytesUp;
        this.totals.bytesDown += bytesDown;
        const durationMs = Math.max(0, this.#now() - decision.startedAt.getTime());
        pending.end = { id: 0, bytesUp, bytesDown, durationMs, address: address ?? null };
        this.#ended.push(pending);
      },
    };
  }

  /** Calls `listener` after each flush that wrote something (followers re-read then). */
  onFlushed(listener: () => void): () => void {
    this.#flushed.on("flushed", listener);
    return () => this.#flushed.off("flushed", listener);
  }

  /** Writes what is queued; flushes never overlap. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flush()).catch((error) => this.options.log(`egress record flush failed: ${(error as Error).message}`));
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.flush();
  }

  async #flush(): Promise<void> {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length > 0) {
      const ids = await insertEgressRecords(
        this.pool,
        batch.map((p) => p.decision),
      );
      batch.forEach((pending, i) => {
        pending.id = ids[i];
      });
    }
    const ready = this.#ended.filter((p) => p.id !== undefined);
    this.#ended = this.#ended.filter((p) => p.id === undefined);
    await finishEgressRecords(
      this.pool,
      ready.flatMap((p) => (p.end && p.id !== undefined ? [{ ...p.end, id: p.id }] : [])),
    );
    await this.#appendEvents(batch.map((p) => p.decision));
    if (this.#dropped > 0) {
      this.options.log(`egress: ${this.#dropped} decisions were not recorded (queue full)`);
      this.#dropped = 0;
    }
    if (batch.length > 0 || ready.length > 0) this.#flushed.emit("flushed");
    if (this.#now() - this.#lastPrune > 3600_000) {
      this.#lastPrune = this.#now();
      await pruneEgress(this.pool, new Date(this.#now() - RETENTION_MS));
    }
  }

  async #appendEvents(decisions: Decision[]): Promise<void> {
    const denied = new Map<string, { decision: Decision; count: number }>();
    for (const decision of decisions) {
      if (!decision.allowed) {
        const key = `${decision.sandboxId} ${decision.host} ${decision.port}`;
        const entry = denied.get(key);
        if (entry) entry.count += 1;
        else denied.set(key, { decision, count: 1 });
        continue;
      }
      const summary = this.#allowed.get(decision.sandboxId) ?? {
        ownerId: decision.ownerId,
        projectId: decision.projectId,
        sandboxName: decision.sandboxName,
        connections: 0,
        hosts: new Map(),
        lastEmitted: 0,
      };
      summary.connections += 1;
      const host = `${decision.host}:${decision.port}`;
      summary.hosts.set(host, (summary.hosts.get(host) ?? 0) + 1);
      this.#allowed.set(decision.sandboxId, summary);
    }
    const window = this.options.allowedEventWindowMs ?? 30_000;
    const due = [...this.#allowed.entries()].filter(([, s]) => s.connections > 0 && this.#now() - s.lastEmitted >= window);
    if (denied.size === 0 && due.length === 0) return;
    await withTransaction(this.pool, async (tx) => {
      for (const { decision, count } of denied.values()) {
        await appendEvent(tx, {
          type: "egress.denied",
          ownerId: decision.ownerId,
          projectId: decision.projectId,
          data: {
            sandboxId: decision.sandboxId,
            sandbox: decision.sandboxName,
            host: decision.host,
            port: decision.port,
            rule: decision.rule,
            reason: decision.reason,
            count,
          },
        });
      }
      for (const [sandboxId, summary] of due) {
        const hosts = [...summary.hosts.entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, TOP_HOSTS)
          .map(([host, connections]) => ({ host, connections }));
        await appendEvent(tx, {
          type: "egress.allowed",
          ownerId: summary.ownerId,
          projectId: summary.projectId,
          data: { sandboxId, sandbox: summary.sandboxName, connections: summary.connections, hosts },
        });
      }
    });
    for (const [, summary] of due) {
      summary.connections = 0;
      summary.hosts.clear();
      summary.lastEmitted = this.#now();
    }
    // Quiet sandboxes (or gone ones) leave the map once a window has passed.
    for (const [sandboxId, summary] of this.#allowed) {
      if (summary.connections === 0 && this.#now() - summary.lastEmitted >= window) this.#allowed.delete(sandboxId);
    }
  }

  #now(): number {
    return this.options.now?.() ?? Date.now();
  }
}
