// The baselines of the sandbox bench. The yardsticks are measured in turn with the
// figure they judge (so a machine whose load drifts slows both alike): lifecycle.ts spawns
// a bare bwrap starting Node between creates, exec.ts a bare bwrap /bin/true between execs,
// stream.ts the streamed command on the host between streams; they use the commands here.
// Measured once at the start, in turn among themselves (A B C A B C …):
//   bare bwrap … /opt/outpost/bin/node -e 0       starting the sandboxes' Node inside bwrap
//   bare bwrap … node -e "require('node:http2')"  plus loading HTTP/2, which the supervisor
//                                                 needs before it can dial
//   bare bwrap … node /opt/outpost/supervisor.js  plus evaluating the whole supervisor bundle
//                                                 (without arguments it exits 2 at the usage)
// which splits the supervisor's start-up; and `srt -c true` (Anthropic's sandbox-runtime,
// the peer).
import { join } from "node:path";
import { REPO_ROOT } from "../lib/outpost.ts";
import { BARE_BWRAP_ARGS, bareBwrapNodeArgs, commandOutput, findSrt, firstLine, srtArgs, timedSpawn } from "../lib/peers.ts";
import type { SandboxBenchOptions } from "./options.ts";
import { describe, type Log } from "./tracker.ts";

export interface SpawnSeries {
  ms: number[];
  error?: string;
}

export const emptySeries = (): SpawnSeries => ({ ms: [] });

export interface PeerResults {
  /** bare bwrap with /opt/outpost bound, `node -e 0`. */
  bwrapNode: SpawnSeries;
  /** the same, `node -e "require('node:http2')"`. */
  bwrapNodeHttp2: SpawnSeries;
  /** the same, `node /opt/outpost/supervisor.js` (no arguments). */
  bwrapSupervisorLoad: SpawnSeries;
  srt: { version: string; node: string; nodeVersion: string; ms: number[] } | { error: string };
}

export const emptyPeers = (): PeerResults => ({
  bwrapNode: emptySeries(),
  bwrapNodeHttp2: emptySeries(),
  bwrapSupervisorLoad: emptySeries(),
  srt: { error: "not measured" },
});

/** The folder the sandboxes get at /opt/outpost, as `npm run build` makes it. */
export const OUTPOST_DIR = join(REPO_ROOT, "dist", "opt-outpost");

/** A bare bwrap command of the comparisons and the exit code that means it worked. */
export interface BareCommand {
  args: string[];
  code: number;
}

export const BARE = {
  true: { args: BARE_BWRAP_ARGS, code: 0 },
  node: { args: bareBwrapNodeArgs(OUTPOST_DIR, ["-e", "0"]), code: 0 },
  nodeHttp2: { args: bareBwrapNodeArgs(OUTPOST_DIR, ["-e", "require('node:http2')"]), code: 0 },
  // No arguments: the bundle is evaluated whole, then main() prints the usage and exits 2.
  supervisorLoad: { args: bareBwrapNodeArgs(OUTPOST_DIR, ["/opt/outpost/supervisor.js"]), code: 2 },
} satisfies Record<string, BareCommand>;

/** Spawns a bare bwrap once into the series (spawn to exit); after a failure the series
 *  keeps its error and is not spawned again. */
export async function spawnInto(command: BareCommand, into: SpawnSeries, timed = true): Promise<void> {
  if (into.error) return;
  try {
    const result = await timedSpawn("bwrap", command.args);
    if (result.code !== command.code)
      throw new Error(`bwrap exited with ${result.code ?? result.signal}, not ${command.code}: ${firstLine(result.stderr) || "(no stderr)"}`);
    if (timed) into.ms.push(result.ms);
  } catch (error) {
    into.error = describe(error);
  }
}

export async function measurePeers(options: SandboxBenchOptions, log: Log): Promise<PeerResults> {
  const results = emptyPeers();
  const series: [BareCommand, SpawnSeries][] = [
    [BARE.node, results.bwrapNode],
    [BARE.nodeHttp2, results.bwrapNodeHttp2],
    [BARE.supervisorLoad, results.bwrapSupervisorLoad],
  ];
  for (let i = 0; i < 3; i++) for (const [command, into] of series) await spawnInto(command, into, false); // warm-up
  for (let i = 0; i < options.bwrapRuns; i++) for (const [command, into] of series) await spawnInto(command, into);
  for (const [, into] of series) if (into.error) log(`bare bwrap failed: ${into.error}`);
  log(`bare bwrap + node -e 0, + http2, + supervisor.js: ${options.bwrapRuns} spawns each, in turn`);

  // srt -c true, with its own CLI in an empty directory and explicit default settings.
  const srt = findSrt();
  if (typeof srt === "string") {
    results.srt = { error: srt };
    log(`srt: ${srt}`);
  } else {
    const version = (await commandOutput(srt.node, ["--version"])) || "?";
    const run = () => timedSpawn(srt.node, srtArgs(srt, "true"), { cwd: srt.cwd });
    const first = await run();
    if (first.code !== 0) {
      results.srt = { error: `srt ${srt.version} on node ${version} exited with ${first.code ?? first.signal}: ${firstLine(first.stderr) || "(no stderr)"}` };
      log(results.srt.error);
    } else {
      await run();
      const ms: number[] = [];
      for (let i = 0; i < options.srtRuns; i++) {
        const result = await run();
        if (result.code !== 0) {
          results.srt = { error: `srt run ${i + 1} exited with ${result.code ?? result.signal}: ${firstLine(result.stderr)}` };
          break;
        }
        ms.push(result.ms);
      }
      if (ms.length === options.srtRuns) results.srt = { version: srt.version, node: srt.node, nodeVersion: version, ms };
      log(`srt -c true: ${ms.length} runs`);
    }
  }
  return results;
}
