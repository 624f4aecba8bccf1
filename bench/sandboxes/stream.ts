// Throughput of a streamed exec: `head -c N /dev/zero` in a running sandbox, its output
// counted as it arrives (never kept), four ways, with the same command on the host as the
// yardstick, all in turn (A B C … A B C …) so a noisy machine slows them alike:
//   host        sh -c '…' on the host into a pipe read by this node process (the baseline)
//   hostWc      sh -c '… | wc -c' (what the kernel's pipe does without node reading it)
//   frames      POST /api/v1/sandboxes/{id}/exec, Accept: application/vnd.outpost.frames,
//               read with fetch (raw bytes, what `outpost exec` uses)
//   framesHttp  the same read with node:http (no web streams: what the client costs)
//   sse         the same exec as SSE (base64 in JSON events)
//   link        the supervisor link alone: SupervisorClient.execFrames from a local driver
//               in this process (link.ts), no API hop
// Each run also records the CPU time spent by the control plane, the supervisor (with the
// `head` it reaped) and this process, which says who the bottleneck is on a 2-core machine.
import type { OutpostApi } from "../lib/api.ts";
import { clockTicks, cpuSeconds } from "../lib/cpu.ts";
import { timedSpawn } from "../lib/peers.ts";
import type { SandboxBenchOptions } from "./options.ts";
import { describe, type Log } from "./tracker.ts";

export interface StreamRun {
  ms: number;
  bytes: number;
  /** SSE events, or frames (0 when not counted). */
  events: number;
  /** Body chunks the client read. */
  chunks?: number;
  /** CPU seconds spent during the run by the control plane, the supervisor (with the
   *  command it reaped) and this process (the API client; for `link`, the link's client). */
  cpu: { controlPlane?: number; supervisor?: number; client: number };
}

export const STREAM_MODES = ["host", "hostWc", "link", "frames", "framesHttp", "sse"] as const;
export type StreamMode = (typeof STREAM_MODES)[number];

export type StreamResults = Record<StreamMode, StreamRun[]> & { failures: string[] };

export const emptyStreamResults = (): StreamResults => ({ host: [], hostWc: [], link: [], frames: [], framesHttp: [], sse: [], failures: [] });

type Cpu = StreamRun["cpu"];

/** One way of running the command; throws when the run went wrong. */
export interface StreamRunner {
  mode: StreamMode;
  /** The supervisor that runs it, and the control plane in between (none for `link`). */
  pids: { controlPlane?: number; supervisor?: number };
  run(command: string): Promise<Omit<StreamRun, "cpu">>;
}

/** The command straight on the host. */
export function hostRunners(expectBytes: number): StreamRunner[] {
  return [
    {
      mode: "host",
      pids: {},
      run: async (command) => {
        const run = await timedSpawn("sh", ["-c", command]);
        if (run.code !== 0 || run.stdoutBytes !== expectBytes) throw new Error(`gave ${run.stdoutBytes} bytes, exit ${run.code ?? run.signal}`);
        return { ms: run.ms, bytes: run.stdoutBytes, events: 0 };
      },
    },
    {
      mode: "hostWc",
      pids: {},
      run: async (command) => {
        const run = await timedSpawn("sh", ["-c", `${command} | wc -c`]);
        if (run.code !== 0) throw new Error(`| wc -c exited with ${run.code ?? run.signal}`);
        return { ms: run.ms, bytes: expectBytes, events: 0 };
      },
    },
  ];
}

/** The three ways through the API, on one sandbox. */
export function apiRunners(api: OutpostApi, sandboxId: string, pids: StreamRunner["pids"], expectBytes: number): StreamRunner[] {
  const check = (run: { stdoutBytes: number; exit?: { exitCode: number | null } | undefined; error?: unknown; stderr: string; pendingBytes?: number }) => {
    const problem = run.error
      ? `error ${JSON.stringify(run.error)}`
      : run.exit?.exitCode !== 0
        ? `exit ${JSON.stringify(run.exit)}; stderr: ${run.stderr.slice(0, 500)}`
        : run.pendingBytes
          ? `the stream ended inside a frame (${run.pendingBytes} bytes missing)`
          : run.stdoutBytes !== expectBytes
            ? `got ${run.stdoutBytes} of ${expectBytes} bytes`
            : undefined;
    if (problem) throw new Error(problem);
  };
  return [
    {
      mode: "frames",
      pids,
      run: async (command) => {
        const run = await api.execFrames(sandboxId, command);
        check(run);
        return { ms: run.ms, bytes: run.stdoutBytes, events: run.frames, chunks: run.chunks };
      },
    },
    {
      mode: "framesHttp",
      pids,
      run: async (command) => {
        const run = await api.execFramesHttp(sandboxId, command);
        check(run);
        return { ms: run.ms, bytes: run.stdoutBytes, events: run.frames, chunks: run.chunks };
      },
    },
    {
      mode: "sse",
      pids,
      run: async (command) => {
        const run = await api.execStream(sandboxId, command);
        check(run);
        return { ms: run.ms, bytes: run.stdoutBytes, events: run.events };
      },
    },
  ];
}

export async function measureStreams(runners: readonly StreamRunner[], options: SandboxBenchOptions, log: Log): Promise<StreamResults> {
  const results = emptyStreamResults();
  const command = `head -c ${options.streamBytes} /dev/zero`;
  const ticks = await clockTicks();
  const cpuNow = (pids: StreamRunner["pids"]): Cpu => ({
    controlPlane: pids.controlPlane === undefined ? undefined : cpuSeconds(pids.controlPlane, ticks),
    supervisor: pids.supervisor === undefined ? undefined : cpuSeconds(pids.supervisor, ticks, true),
    client: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
  });
  const spent = (before: Cpu, after: Cpu): Cpu => ({
    controlPlane: before.controlPlane !== undefined && after.controlPlane !== undefined ? after.controlPlane - before.controlPlane : undefined,
    supervisor: before.supervisor !== undefined && after.supervisor !== undefined ? after.supervisor - before.supervisor : undefined,
    client: after.client - before.client,
  });

  for (let i = 0; i < options.streamRuns; i++) {
    for (const runner of runners) {
      try {
        const before = cpuNow(runner.pids);
        const run = await runner.run(command);
        results[runner.mode].push({ ...run, cpu: spent(before, cpuNow(runner.pids)) });
        log(`stream ${runner.mode} ${i + 1}/${options.streamRuns}: ${run.bytes} bytes in ${run.ms.toFixed(0)} ms`);
      } catch (error) {
        results.failures.push(`streamed exec (${runner.mode}) of '${command}': ${describe(error)}`);
        log(`stream ${runner.mode} failed: ${describe(error)}`);
      }
    }
  }
  return results;
}
