// Per-request latency through the egress proxy: client.mjs makes sequential small GETs to
// the host server, under the sandboxes' own Node binary both times — inside the sandbox
// through the proxy (four ways), and on the host straight to 127.0.0.1 (two baselines). The
// requests are split into rounds, every way once per round in turn (A B C … A B C …), so a
// noisy machine slows them alike; each client process warms up first, untimed. The CPU the
// proxy's side spends per request (control plane, database, supervisor) is read around
// each client process, warm-up included.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { OutpostApi } from "../lib/api.ts";
import { REPO_ROOT } from "../lib/outpost.ts";
import { describe, type Log, type Tracker } from "../sandboxes/tracker.ts";
import { type CommandResult, inSandbox, onHost, succeeded } from "./commands.ts";
import { type Cpu, type CpuPids, cpuNow, cpuSpent } from "./cpu.ts";
import type { EgressBenchOptions } from "./options.ts";

export const WAYS = ["direct", "proxy", "connect", "directKeepAlive", "proxyKeepAlive", "tunnelKeepAlive"] as const;
export type Way = (typeof WAYS)[number];

/** Where each way runs and the host baseline it is judged against. */
export const WAY_SETUP: Record<Way, { where: "host" | "sandbox"; baseline: Way }> = {
  direct: { where: "host", baseline: "direct" },
  proxy: { where: "sandbox", baseline: "direct" },
  connect: { where: "sandbox", baseline: "direct" },
  directKeepAlive: { where: "host", baseline: "directKeepAlive" },
  proxyKeepAlive: { where: "sandbox", baseline: "directKeepAlive" },
  tunnelKeepAlive: { where: "sandbox", baseline: "directKeepAlive" },
};

export interface LatencyResults {
  ms: Record<Way, number[]>;
  /** CPU seconds around each client process, and how many requests (warm-up included) it made. */
  cpu: Record<Way, { spent: Cpu; requests: number }[]>;
  failures: string[];
}

export const emptyLatency = (): LatencyResults => ({
  ms: { direct: [], proxy: [], connect: [], directKeepAlive: [], proxyKeepAlive: [], tunnelKeepAlive: [] },
  cpu: { direct: [], proxy: [], connect: [], directKeepAlive: [], proxyKeepAlive: [], tunnelKeepAlive: [] },
  failures: [],
});

const CLIENT_SOURCE = join(REPO_ROOT, "bench", "egress", "client.mjs");
/** The Node every sandbox has at /opt/outpost/bin/node, as built on the host. */
export const SANDBOX_NODE_ON_HOST = join(REPO_ROOT, "dist", "opt-outpost", "bin", "node");
const CLIENT_IN_SANDBOX = "/workspace/egress-client.mjs";

export async function measureLatency(
  api: OutpostApi,
  run: Tracker,
  sandboxId: string,
  port: number,
  pids: CpuPids,
  options: EgressBenchOptions,
  log: Log,
): Promise<LatencyResults> {
  const results = emptyLatency();
  succeeded("writing the client", await inSandbox(api, sandboxId, ["sh", "-c", `cat > ${CLIENT_IN_SANDBOX}`], readFileSync(CLIENT_SOURCE, "utf8")));
  const perRound = Math.ceil(options.requests / options.rounds);
  const failed = new Set<Way>();
  for (let round = 1; round <= options.rounds; round++) {
    for (const way of WAYS) {
      if (failed.has(way)) continue;
      run.check();
      const args = JSON.stringify({ way, port, count: perRound, warmUp: options.warmUp });
      try {
        const before = cpuNow(pids);
        const result: CommandResult =
          WAY_SETUP[way].where === "host"
            ? await onHost(SANDBOX_NODE_ON_HOST, [CLIENT_SOURCE, args])
            : await inSandbox(api, sandboxId, ["/opt/outpost/bin/node", CLIENT_IN_SANDBOX, args]);
        const { ms } = JSON.parse(succeeded(`client (${way})`, result).stdout) as { ms: number[] };
        results.cpu[way].push({ spent: cpuSpent(before, cpuNow(pids)), requests: perRound + options.warmUp });
        results.ms[way].push(...ms);
      } catch (error) {
        failed.add(way);
        results.failures.push(`latency, ${way} (${WAY_SETUP[way].where}): ${describe(error)}`);
      }
    }
    log(`requests round ${round}/${options.rounds}: ${perRound} of each way (${WAYS.join(", ")})`);
  }
  return results;
}
