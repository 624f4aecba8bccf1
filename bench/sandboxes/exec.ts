// One running sandbox for exec: the supervisor's memory when idle; round trips of `true`
// through POST /exec (JSON), next to the same over the link alone (link.ts), a plain GET of
// the sandbox (auth and a database read: the API's own floor) and a bare bwrap /bin/true
// (the yardstick), in turn; the streamed
// throughput (stream.ts); the supervisor's memory after all that; then the sandbox is
// deleted.
import type { OutpostApi } from "../lib/api.ts";
import { sleep } from "../lib/cleanup.ts";
import type { ControlPlane } from "../lib/outpost.ts";
import { sandboxProcesses } from "../lib/sandbox-processes.ts";
import { type LinkBench, linkRunner, linkTrue } from "./link.ts";
import { type SupervisorMemory, supervisorMemory } from "./memory.ts";
import type { SandboxBenchOptions } from "./options.ts";
import { BARE, emptySeries, type SpawnSeries, spawnInto } from "./peers.ts";
import { apiRunners, emptyStreamResults, hostRunners, measureStreams, type StreamResults, type StreamRunner } from "./stream.ts";
import { createRunning, deleteDeleted, describe, type Log, type Tracker } from "./tracker.ts";

export interface ExecResults {
  /** bare bwrap … /bin/true, one after each exec: the yardstick, in turn with what it judges. */
  bwrap: SpawnSeries;
  /** JSON mode round trips of `true`, as the client saw them. */
  jsonMs: number[];
  /** The supervisor's own `durationMs` for the same commands. */
  commandMs: number[];
  /** GET /api/v1/sandboxes/{id} round trips, in turn with the execs. */
  getMs: number[];
  streams: StreamResults;
  failures: string[];
  idle?: SupervisorMemory;
  afterStreams?: SupervisorMemory;
}

export const emptyExecResults = (): ExecResults => ({
  bwrap: emptySeries(),
  jsonMs: [],
  commandMs: [],
  getMs: [],
  streams: emptyStreamResults(),
  failures: [],
});

const WARM_UP = 5;

export async function measureExec(
  api: OutpostApi,
  run: Tracker,
  plane: ControlPlane,
  project: string,
  options: SandboxBenchOptions,
  link: LinkBench | undefined,
  log: Log,
): Promise<ExecResults> {
  const results = emptyExecResults();
  try {
    const { sandbox } = await createRunning(api, run, project);
    const linked = link ? await link.start(false).catch((error) => void link.results.failures.push(`link-alone sandbox: ${describe(error)}`)) : undefined;
    await sleep(options.idleMs);
    const processes = sandboxProcesses([sandbox.id]).get(sandbox.id);
    results.idle = supervisorMemory(processes);
    if (!results.idle) results.failures.push(`no supervisor process found for ${sandbox.id}`);

    let linkFailed = false;
    for (let i = 0; i < options.execRuns + WARM_UP; i++) {
      run.check();
      const started = performance.now();
      const response = await api.call("POST", `/api/v1/sandboxes/${sandbox.id}/exec`, { command: "true" });
      const elapsed = performance.now() - started;
      if (response.status !== 200 || response.body?.exitCode !== 0) {
        results.failures.push(`exec true → ${response.status}: ${response.text.slice(0, 1000)}`);
        if (results.failures.length >= 3) break;
        continue;
      }
      const getStarted = performance.now();
      await api.expect(200, "GET", `/api/v1/sandboxes/${sandbox.id}`);
      const getMs = performance.now() - getStarted;
      const linkMs =
        linked && !linkFailed
          ? await linkTrue(linked).catch((error) => {
              linkFailed = true;
              link!.results.failures.push(`link-alone exec: ${describe(error)}`);
              return undefined;
            })
          : undefined;
      await spawnInto(BARE.true, results.bwrap, i >= WARM_UP);
      if (i < WARM_UP) continue;
      results.jsonMs.push(elapsed);
      results.commandMs.push(response.body.durationMs);
      results.getMs.push(getMs);
      if (linkMs !== undefined) link!.results.execMs.push(linkMs);
    }
    log(`exec true (JSON), GET, true over the link alone, bare bwrap /bin/true: ${results.jsonMs.length} each, in turn`);

    run.check();
    const runners: StreamRunner[] = [
      ...hostRunners(options.streamBytes),
      ...apiRunners(api, sandbox.id, { controlPlane: plane.pid, supervisor: processes?.supervisor?.pid }, options.streamBytes),
    ];
    if (linked) runners.push(linkRunner(linked, link!.supervisorPid(linked.sandboxId), options.streamBytes));
    results.streams = await measureStreams(runners, options, log);
    await sleep(Math.min(options.idleMs, 2_000));
    results.afterStreams = supervisorMemory(sandboxProcesses([sandbox.id]).get(sandbox.id));
    await deleteDeleted(api, run, sandbox.id);
    if (linked) await link!.remove(linked.sandboxId, false);
  } catch (error) {
    results.failures.push(describe(error));
    log(`exec sandbox failed: ${describe(error)}`);
  }
  return results;
}
