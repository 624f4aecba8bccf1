// The supervisor link alone: the local driver (src/drivers/local) in this process, the way
// the control plane holds it, without the API, the database or the reconciler in between.
//   ensure()          create → supervisor connected, with each stage timed here as the driver
//                     reports it (no database write between stages), and the supervisor's own
//                     start (<state>/supervisor.json) splitting the supervisor stage
//   client.exec       `true` over the link (NDJSON), what an API exec adds its hop to
//   client.execFrames the streamed command over the link, frames, bytes counted
// Its sandboxes live in a temp data dir of their own (ids `sbx_bench_…`), take host uids
// through the machine-wide claims like any control plane, and are removed by the driver
// (and, should that fail or the run be interrupted, killed by their marker) before the
// bench ends.
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SandboxHandle } from "../../src/drivers/driver.ts";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { resolveOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import { deferCleanup } from "../lib/cleanup.ts";
import { REPO_ROOT } from "../lib/outpost.ts";
import { killSandboxes, sandboxProcesses } from "../lib/sandbox-processes.ts";
import type { StreamRunner } from "./stream.ts";
import { describe } from "./tracker.ts";

/** Stage durations measured here: the driver's stages, the supervisor stage split in two. */
export const LINK_STAGES = ["workspace", "isolation", "supervisor", "supervisor.node", "supervisor.link"] as const;
export type LinkStage = (typeof LINK_STAGES)[number];

export interface LinkAloneResults {
  /** driver.ensure() until it returned the connected link. */
  ensureMs: number[];
  stagesMs: Partial<Record<LinkStage, number[]>>;
  /** driver.remove() until it returned (SIGTERM, wait, cgroup, folders). */
  removeMs: number[];
  /** SupervisorClient.exec({command:"true"}) drained to its exit line. */
  execMs: number[];
  failures: string[];
}

export const emptyLinkResults = (): LinkAloneResults => ({ ensureMs: [], stagesMs: {}, removeMs: [], execMs: [], failures: [] });

/** Wall-clock ms with sub-ms precision, comparable with the ISO times a sandbox writes. */
const wallNow = () => performance.timeOrigin + performance.now();

export class LinkBench {
  readonly results = emptyLinkResults();
  readonly #dataDir: string;
  readonly #driver: LocalDriver;
  readonly #live = new Set<string>();
  readonly #done: () => void;
  #closed = false;

  constructor() {
    this.#dataDir = mkdtempSync(join(tmpdir(), "outpost-bench-link-"));
    // Sandbox uids must pass through to their folders, like a real data dir.
    chmodSync(this.#dataDir, 0o711);
    const dataDir = this.#dataDir;
    this.#driver = new LocalDriver({
      root: join(dataDir, "sandboxes"),
      outpostDir: (owner) => resolveOutpostDir({ packageRoot: REPO_ROOT, dataDir, sandboxOwner: owner }),
    });
    this.#done = deferCleanup(`link-alone sandboxes in ${dataDir}`, () => this.close());
  }

  /** ensure() a fresh sandbox; records its latency and stage durations when `timed`. */
  async start(timed: boolean): Promise<SandboxHandle> {
    const sandboxId = `sbx_bench_${randomBytes(6).toString("hex")}`;
    const marks = new Map<string, number>();
    this.#live.add(sandboxId);
    const started = performance.now();
    const handle = await this.#driver.ensure(
      { sandboxId, name: "bench-link" },
      { onStage: (stage, state) => marks.set(`${stage}:${state}`, wallNow()), signal: AbortSignal.timeout(60_000) },
    );
    const ms = performance.now() - started;
    if (timed) {
      this.results.ensureMs.push(ms);
      const ran = this.#supervisorStartedAt(sandboxId);
      const between = (from: number | undefined, to: number | undefined) => (from !== undefined && to !== undefined ? to - from : Number.NaN);
      const values: Record<LinkStage, number> = {
        workspace: between(marks.get("workspace:running"), marks.get("workspace:done")),
        isolation: between(marks.get("isolation:running"), marks.get("isolation:done")),
        supervisor: between(marks.get("supervisor:running"), marks.get("supervisor:done")),
        "supervisor.node": between(marks.get("supervisor:running"), ran),
        "supervisor.link": between(ran, marks.get("supervisor:done")),
      };
      for (const key of LINK_STAGES) if (Number.isFinite(values[key])) this.results.stagesMs[key] = [...(this.results.stagesMs[key] ?? []), values[key]];
    }
    return handle;
  }

  async remove(sandboxId: string, timed: boolean): Promise<void> {
    const started = performance.now();
    await this.#driver.remove(sandboxId, { keepWorkspace: false, signal: AbortSignal.timeout(60_000) });
    if (timed) this.results.removeMs.push(performance.now() - started);
    this.#live.delete(sandboxId);
  }

  /** One timed create → remove cycle; a failure is recorded, not thrown. */
  async cycle(): Promise<void> {
    let id: string | undefined;
    try {
      id = (await this.start(true)).sandboxId;
      await this.remove(id, true);
    } catch (error) {
      this.results.failures.push(`link-alone cycle: ${describe(error)}`);
      if (id) await this.remove(id, false).catch(() => {});
    }
  }

  supervisorPid(sandboxId: string): number | undefined {
    return sandboxProcesses([sandboxId]).get(sandboxId)?.supervisor?.pid;
  }

  /** Removes every sandbox it started (then kills anything left of them) and its data dir. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#done();
    const ids = [...this.#live];
    for (const id of ids) await this.remove(id, false).catch((error) => this.results.failures.push(`remove ${id}: ${describe(error)}`));
    await this.#driver.close();
    await killSandboxes(ids);
    rmSync(this.#dataDir, { recursive: true, force: true });
  }

  #supervisorStartedAt(sandboxId: string): number | undefined {
    try {
      const file = JSON.parse(readFileSync(join(this.#dataDir, "sandboxes", sandboxId, "state", "supervisor.json"), "utf8")) as { startedAt?: unknown };
      return typeof file.startedAt === "string" ? Date.parse(file.startedAt) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** One round trip of `true` over the link (NDJSON), drained to the exit line; returns the ms. */
export async function linkTrue(handle: SandboxHandle): Promise<number> {
  const started = performance.now();
  let exit: number | null | undefined;
  for await (const event of await handle.link.client.exec({ command: "true" }, { signal: AbortSignal.timeout(30_000) })) {
    if (event.type === "exit") exit = event.exitCode;
  }
  const ms = performance.now() - started;
  if (exit !== 0) throw new Error(`true over the link exited with ${exit}`);
  return ms;
}

/** The streamed command over the link as frames, stdout bytes counted (stream.ts's `link`). */
export function linkRunner(handle: SandboxHandle, supervisorPid: number | undefined, expectBytes: number): StreamRunner {
  return {
    mode: "link",
    pids: { supervisor: supervisorPid },
    run: async (command) => {
      const started = performance.now();
      let bytes = 0;
      let chunks = 0;
      let exit: { exitCode: number | null } | undefined;
      for await (const event of await handle.link.client.execFrames({ command }, { signal: AbortSignal.timeout(120_000) })) {
        if (event.type === "stdout") {
          bytes += event.data.length;
          chunks++;
        } else if (event.type === "exit") exit = event;
      }
      const ms = performance.now() - started;
      if (exit?.exitCode !== 0) throw new Error(`exit ${JSON.stringify(exit)}`);
      if (bytes !== expectBytes) throw new Error(`got ${bytes} of ${expectBytes} bytes`);
      return { ms, bytes, events: chunks, chunks };
    },
  };
}
