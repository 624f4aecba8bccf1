// Turns the egress bench's results into the printed summary: per-request latency through
// the proxy next to the same client on the host (p50, p99, the difference and the ratio),
// then download throughput through the proxy next to the same curl on the host, with the
// CPU each process spent, then any problems.
import { cpus, release } from "node:os";
import type { EgressResults } from "../egress.ts";
import { table } from "../lib/format.ts";
import { percentile } from "../lib/stats.ts";
import { fine, mbPerSecond, median, preciseRatio } from "../sandboxes/report-format.ts";
import type { Cpu } from "./cpu.ts";
import { type LatencyResults, WAY_SETUP, WAYS, type Way } from "./latency.ts";
import { DOWNLOAD_SETUP, DOWNLOADS, type Download, type DownloadRun } from "./throughput.ts";

export interface EgressReportInput {
  results: EgressResults;
  load: { before: number; after: number };
  seconds: number;
}

const WAY_LABELS: Record<Way, string> = {
  direct: "host → 127.0.0.1, a new connection each (baseline)",
  proxy: "sandbox → proxy, absolute-form GET, a new connection each",
  connect: "sandbox → proxy, CONNECT then GET in the tunnel, a new tunnel each",
  directKeepAlive: "host → 127.0.0.1, one kept-alive connection (baseline)",
  proxyKeepAlive: "sandbox → proxy, absolute-form GET, kept alive to the proxy",
  tunnelKeepAlive: "sandbox → proxy, one CONNECT tunnel kept alive",
};

const DOWNLOAD_LABELS: Record<Download, string> = {
  httpDirect: "HTTP, curl on the host → 127.0.0.1 (baseline)",
  httpProxy: "HTTP, curl in the sandbox → proxy (absolute-form, forwarded)",
  httpsDirect: "HTTPS, curl on the host → 127.0.0.1 (baseline)",
  httpsTunnel: "HTTPS, curl in the sandbox → proxy (CONNECT tunnel, piped)",
};

/** "+1.23 ms" / "-0.04 ms": a difference of milliseconds, signed. */
export function signedMs(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return `${value < 0 ? "-" : "+"}${fine(Math.abs(value))}`;
}

/** A table's separator rows ([""]) without the indent they would keep. */
const blankLines = (text: string) => text.replace(/^ +$/gm, "");

const p = (values: readonly number[], at: number) => (values.length ? percentile(values, at) : Number.NaN);

/** Milliseconds of CPU per request of one process, over all of a way's client processes. */
function cpuPerRequest(runs: LatencyResults["cpu"][Way], of: keyof Cpu): string {
  const known = runs.filter((run) => run.spent[of] !== undefined);
  const requests = known.reduce((sum, run) => sum + run.requests, 0);
  if (!requests) return "–";
  return fine((known.reduce((sum, run) => sum + run.spent[of]!, 0) * 1000) / requests);
}

export function latencyRows({ ms, cpu }: Pick<LatencyResults, "ms" | "cpu">): string[][] {
  const rows = [["", "N", "p50", "p99", "max", "p50 − baseline", "p99 − baseline", "× p50", "CPU/request: control plane", "database", "supervisor"]];
  for (const way of WAYS) {
    const values = ms[way];
    const base = ms[WAY_SETUP[way].baseline];
    const isBase = WAY_SETUP[way].baseline === way;
    if (way !== WAYS[0] && isBase) rows.push([""]);
    if (!values.length) {
      rows.push([WAY_LABELS[way], "0", "–"]);
      continue;
    }
    rows.push([
      WAY_LABELS[way],
      String(values.length),
      fine(p(values, 50)),
      fine(p(values, 99)),
      fine(Math.max(...values)),
      isBase ? "" : signedMs(p(values, 50) - p(base, 50)),
      isBase ? "" : signedMs(p(values, 99) - p(base, 99)),
      isBase ? "" : preciseRatio(p(values, 50), p(base, 50)),
      cpuPerRequest(cpu[way], "controlPlane"),
      cpuPerRequest(cpu[way], "database"),
      WAY_SETUP[way].where === "sandbox" ? cpuPerRequest(cpu[way], "supervisor") : "",
    ]);
  }
  return rows;
}

const rate = (runs: readonly DownloadRun[]) => runs.map((r) => mbPerSecond(r.bytes, r.ms));
const cpuCell = (values: (number | undefined)[]) => {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length ? `${median(known).toFixed(2)} s` : "–";
};

export function throughputRows(runs: Record<Download, DownloadRun[]>): string[][] {
  const rows = [["", "N", "MB/s, median", "min–max", "× baseline", "CPU/run: control plane", "database", "supervisor", "host server"]];
  for (const way of DOWNLOADS) {
    const speeds = rate(runs[way]);
    const isBase = DOWNLOAD_SETUP[way].baseline === way;
    if (!speeds.length) {
      rows.push([DOWNLOAD_LABELS[way], "0", "–"]);
      continue;
    }
    const sandboxSide = DOWNLOAD_SETUP[way].where === "sandbox";
    rows.push([
      DOWNLOAD_LABELS[way],
      String(speeds.length),
      median(speeds).toFixed(0),
      `${Math.min(...speeds).toFixed(0)}–${Math.max(...speeds).toFixed(0)}`,
      isBase ? "" : preciseRatio(median(speeds), median(rate(runs[DOWNLOAD_SETUP[way].baseline]))),
      cpuCell(runs[way].map((r) => r.cpu.controlPlane)),
      cpuCell(runs[way].map((r) => r.cpu.database)),
      sandboxSide ? cpuCell(runs[way].map((r) => r.cpu.supervisor)) : "",
      cpuCell(runs[way].map((r) => r.cpu.server)),
    ]);
  }
  return rows;
}

export function egressProblems(results: EgressResults): string[] {
  const problems = [...results.failures, ...results.latency.failures, ...results.throughput.failures];
  if (results.leftovers > 0) problems.push(`${results.leftovers} process(es) of the sandbox were still alive after the control plane stopped`);
  if (!results.graceful) problems.push("the control plane did not stop gracefully");
  return problems;
}

export function egressReport({ results, load, seconds }: EgressReportInput): string {
  const cpu = cpus();
  const { options, latency, throughput } = results;
  const mb = throughput.bytes / 1e6 || options.downloadMb;
  const lines = [
    "Outpost egress proxy (sandbox → 127.0.0.1:3128 → supervisor bridge → control plane's proxy → host) vs the same clients on the host straight to 127.0.0.1, measured in the same run",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}; bench and control plane on Node ${results.nodeVersion}; the request clients on Node ${results.sandboxNodeVersion.replace(/^v/, "")} (/opt/outpost/bin/node, in the sandbox and on the host); ${results.curlVersion}`,
    `  load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after; control plane ready in ${fine(results.start?.ms ?? Number.NaN)}; ${seconds.toFixed(0)} s in all`,
    "",
    `Per-request latency: sequential GETs of a 3-byte answer, one node process per way and round, ${options.rounds} rounds in turn, ${options.warmUp} untimed requests first in each`,
    blankLines(table(latencyRows(latency))),
    "  a new connection through the proxy = TCP to the supervisor's bridge, a unix socket to the control plane, the project's policy read",
    "  from the database, the upstream dial; kept alive to the proxy, the last two remain per request; in a kept tunnel the proxy only pipes.",
    "  CPU/request: read around each client process (its exec and warm-up included), divided by its requests; on the host rows, what the",
    "  idle control plane and database spend meanwhile",
    "",
    `Download of ${mb.toFixed(0)} MB (curl -o /dev/null, time_total), ${options.downloadRuns} run(s) of each in turn; CPU seconds spent during a run, median`,
    table(throughputRows(throughput.runs)),
    "  host server: this bench process, serving the bytes from one reused 1 MiB buffer (HTTPS: node's TLS)",
  ];
  const problems = egressProblems(results);
  lines.push("", problems.length ? `Problems (${problems.length}):` : "Problems: none");
  for (const problem of problems) lines.push(`  ! ${problem}`);
  return `${lines.join("\n")}\n`;
}
