// Download throughput through the egress proxy: curl fetches N bytes from the host server
// inside the sandbox through the proxy (plain HTTP as an absolute-form request, which the
// proxy forwards request by request; HTTPS through a CONNECT tunnel, which it only pipes),
// and the same curl on the host straight to 127.0.0.1 as the baselines; all four in turn,
// each run timed by curl itself (%{time_total}). Each run also records the CPU time spent
// by the processes in between (cpu.ts), which says who limits the rate.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OutpostApi } from "../lib/api.ts";
import { deferCleanup } from "../lib/cleanup.ts";
import { describe, type Log, type Tracker } from "../sandboxes/tracker.ts";
import { inSandbox, onHost, succeeded } from "./commands.ts";
import { type Cpu, type CpuPids, cpuNow, cpuSpent } from "./cpu.ts";
import { HOST_MACHINE, type HostServers } from "./host-server.ts";
import type { EgressBenchOptions } from "./options.ts";

export const DOWNLOADS = ["httpDirect", "httpProxy", "httpsDirect", "httpsTunnel"] as const;
export type Download = (typeof DOWNLOADS)[number];

export const DOWNLOAD_SETUP: Record<Download, { where: "host" | "sandbox"; baseline: Download }> = {
  httpDirect: { where: "host", baseline: "httpDirect" },
  httpProxy: { where: "sandbox", baseline: "httpDirect" },
  httpsDirect: { where: "host", baseline: "httpsDirect" },
  httpsTunnel: { where: "sandbox", baseline: "httpsDirect" },
};

export interface DownloadRun {
  bytes: number;
  /** curl's time_total. */
  ms: number;
  cpu: Cpu;
}

export interface ThroughputResults {
  bytes: number;
  runs: Record<Download, DownloadRun[]>;
  failures: string[];
}

export const emptyThroughput = (bytes = 0): ThroughputResults => ({
  bytes,
  runs: { httpDirect: [], httpProxy: [], httpsDirect: [], httpsTunnel: [] },
  failures: [],
});

const CA_IN_SANDBOX = "/workspace/bench-ca.pem";
const PROXY = "http://127.0.0.1:3128";
const CURL = ["-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", "--max-time", "150"];

export async function measureThroughput(
  api: OutpostApi,
  run: Tracker,
  sandboxId: string,
  pids: CpuPids,
  servers: HostServers,
  options: EgressBenchOptions,
  log: Log,
): Promise<ThroughputResults> {
  const bytes = options.downloadMb * 1_000_000;
  const results = emptyThroughput(bytes);
  const dir = mkdtempSync(join(tmpdir(), "outpost-bench-egress-"));
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const cleaned = deferCleanup(`temp dir ${dir}`, removeDir);
  try {
    const caOnHost = join(dir, "ca.pem");
    writeFileSync(caOnHost, servers.caPem);
    succeeded("writing the CA", await inSandbox(api, sandboxId, ["sh", "-c", `cat > ${CA_IN_SANDBOX}`], servers.caPem));
    const path = `/bytes?n=${bytes}`;
    const argv: Record<Download, string[]> = {
      httpDirect: [...CURL, "--noproxy", "*", `http://127.0.0.1:${servers.httpPort}${path}`],
      httpProxy: ["curl", ...CURL, "--proxy", PROXY, `http://${HOST_MACHINE}:${servers.httpPort}${path}`],
      httpsDirect: [...CURL, "--noproxy", "*", "--cacert", caOnHost, `https://127.0.0.1:${servers.httpsPort}${path}`],
      httpsTunnel: ["curl", ...CURL, "--proxy", PROXY, "--cacert", CA_IN_SANDBOX, `https://${HOST_MACHINE}:${servers.httpsPort}${path}`],
    };

    const failed = new Set<Download>();
    for (let i = 1; i <= options.downloadRuns; i++) {
      for (const way of DOWNLOADS) {
        if (failed.has(way)) continue;
        run.check();
        try {
          const before = cpuNow(pids);
          const result = DOWNLOAD_SETUP[way].where === "host" ? await onHost("curl", argv[way]) : await inSandbox(api, sandboxId, argv[way]);
          const cpu = cpuSpent(before, cpuNow(pids));
          const [size, seconds] = succeeded(`curl (${way})`, result).stdout.trim().split(" ").map(Number);
          if (size !== bytes) throw new Error(`curl got ${size} of ${bytes} bytes`);
          results.runs[way].push({
            bytes: size,
            ms: seconds! * 1000,
            cpu,
          });
          log(`download ${way} ${i}/${options.downloadRuns}: ${options.downloadMb} MB in ${(seconds! * 1000).toFixed(0)} ms`);
        } catch (error) {
          failed.add(way);
          results.failures.push(`download, ${way} (${DOWNLOAD_SETUP[way].where}): ${describe(error)}`);
          log(`download ${way} failed: ${describe(error)}`);
        }
      }
    }
  } finally {
    removeDir();
    cleaned();
  }
  return results;
}
