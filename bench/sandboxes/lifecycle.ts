// Create → running and delete → deleted through the API, one sandbox at a time, and where
// create → running goes: a waterfall from the client's clock (POST, first GET that saw
// `running`), the resource's `createdAt` and each stage's startedAt/endedAt (GET
// /api/v1/sandboxes/{id}), and the `startedAt` the supervisor writes into its state folder
// once its code runs (<sandbox>/state/supervisor.json), which splits the supervisor stage
// into "Node starts and evaluates supervisor.js" and "it dials, says hello, HTTP/2 comes up
// and the control plane's health call answers". All are wall-clock times of this machine
// (the sandbox has no time namespace), with millisecond resolution. Each cycle is followed
// by one through the local driver alone (link.ts), without the API and the database, and
// by a bare bwrap starting the sandboxes' Node (peers.ts), the yardstick.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { OutpostApi } from "../lib/api.ts";
import { leftoverPids } from "../lib/sandbox-processes.ts";
import type { LinkBench } from "./link.ts";
import type { SandboxBenchOptions } from "./options.ts";
import { BARE, emptySeries, type SpawnSeries, spawnInto } from "./peers.ts";
import { createRunning, deleteDeleted, describe, type Log, type Sandbox, type Tracker } from "./tracker.ts";

/** The segments of create → running, in order; the `supervisor.*` ones split `supervisor`. */
export const SEGMENTS = [
  "post",
  "queued",
  "workspace",
  "toIsolation",
  "isolation",
  "toSupervisor",
  "supervisor",
  "supervisor.node",
  "supervisor.link",
  "toReady",
  "ready",
  "seen",
] as const;
export type Segment = (typeof SEGMENTS)[number];

export interface LifecycleResults {
  createMs: number[];
  /** bare bwrap starting the sandboxes' Node (`node -e 0`), one after each create: the
   *  issue's yardstick, measured in turn with what it judges. */
  node: SpawnSeries;
  deleteMs: number[];
  /** Per segment, one value per cycle that had it. */
  segmentsMs: Partial<Record<Segment, number[]>>;
  /** Processes of a sandbox still alive once it reported `deleted`. */
  lingering: string[];
  failures: string[];
}

export const emptyLifecycle = (): LifecycleResults => ({ createMs: [], node: emptySeries(), deleteMs: [], segmentsMs: {}, lingering: [], failures: [] });

/** Pure: the segments of one create → running from the timestamps (ms since the epoch or ISO). */
export function createSegments(
  sandbox: Pick<Sandbox, "createdAt" | "stages">,
  client: { postedAt: number; seenRunningAt: number },
  supervisorStartedAt?: string,
): Partial<Record<Segment, number>> {
  const at = (iso: string | undefined) => (iso === undefined ? Number.NaN : Date.parse(iso));
  const stage = (name: string) => sandbox.stages.find((s) => s.name === name);
  const start = (name: string) => at(stage(name)?.startedAt);
  const end = (name: string) => at(stage(name)?.endedAt);
  const created = at(sandbox.createdAt);
  const running = at(supervisorStartedAt);
  const values: Partial<Record<Segment, number>> = {
    post: created - client.postedAt,
    queued: start("workspace") - created,
    workspace: end("workspace") - start("workspace"),
    toIsolation: start("isolation") - end("workspace"),
    isolation: end("isolation") - start("isolation"),
    toSupervisor: start("supervisor") - end("isolation"),
    supervisor: end("supervisor") - start("supervisor"),
    "supervisor.node": running - start("supervisor"),
    "supervisor.link": end("supervisor") - running,
    toReady: end("ready") - end("supervisor"),
    ready: end("ready") - start("ready"),
    seen: client.seenRunningAt - end("ready"),
  };
  for (const key of SEGMENTS) if (!Number.isFinite(values[key])) delete values[key];
  return values;
}

/** The supervisor's own start time, from the file it writes once its code runs. */
function supervisorStartedAt(dataDir: string, sandboxId: string): string | undefined {
  try {
    const file = JSON.parse(readFileSync(join(dataDir, "sandboxes", sandboxId, "state", "supervisor.json"), "utf8")) as { startedAt?: unknown };
    return typeof file.startedAt === "string" ? file.startedAt : undefined;
  } catch {
    return undefined;
  }
}

export async function measureLifecycle(
  api: OutpostApi,
  run: Tracker,
  project: string,
  dataDir: string,
  options: SandboxBenchOptions,
  link: LinkBench | undefined,
  log: Log,
): Promise<LifecycleResults> {
  const results = emptyLifecycle();
  for (let i = 0; i < options.lifecycleRuns; i++) {
    run.check();
    let id: string | undefined;
    try {
      const created = await createRunning(api, run, project);
      id = created.sandbox.id;
      results.createMs.push(created.ms);
      const segments = createSegments(created.sandbox, created, supervisorStartedAt(dataDir, id));
      for (const [key, value] of Object.entries(segments) as [Segment, number][]) {
        results.segmentsMs[key] = [...(results.segmentsMs[key] ?? []), value];
      }
      results.deleteMs.push(await deleteDeleted(api, run, id));
      const lingering = leftoverPids([id]);
      if (lingering.length) results.lingering.push(`${id}: pids ${lingering.join(", ")} alive after phase deleted`);
    } catch (error) {
      results.failures.push(`cycle ${i + 1}: ${describe(error)}`);
      log(`lifecycle cycle ${i + 1} failed: ${describe(error)}`);
      if (results.failures.length >= 3 && results.createMs.length === 0) break;
      if (id && !run.deleted.has(id)) await deleteDeleted(api, run, id).catch(() => {});
    }
    // The same through the driver alone, and Node started in a bare bwrap, in turn with the
    // API's (each records its own failures).
    await link?.cycle();
    await spawnInto(BARE.node, results.node);
    if ((i + 1) % 10 === 0) log(`lifecycle ${i + 1}/${options.lifecycleRuns} (API, and the driver alone)`);
  }
  return results;
}
