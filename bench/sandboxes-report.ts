// Turns the sandbox bench's results into the printed summary: lifecycle latencies, exec next
// to bare bwrap and srt, streamed throughput next to a host pipe, then memory.
import { cpus, release } from "node:os";
import { mb, ratio, table } from "./lib/format.ts";
import type { Memory } from "./lib/proc.ts";
import { percentile } from "./lib/stats.ts";
import type { SandboxResults } from "./sandboxes.ts";

export interface SandboxReportInput {
  results: SandboxResults;
  load: { before: number; after: number };
  seconds: number;
}

/** Milliseconds with the precision the size deserves: 0.84, 12.3, 456. */
function fine(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
}

const median = (values: readonly number[]) => percentile(values, 50);

/** p50 / p95 / max / min cells, or dashes for no values. */
function spread(values: readonly number[]): string[] {
  if (values.length === 0) return ["–", "–", "–", "–"];
  return [fine(percentile(values, 50)), fine(percentile(values, 95)), fine(Math.max(...values)), fine(Math.min(...values))];
}

const mbPerSecond = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** Like format.ts's ratio, with two significant digits below 1 (×0.041). */
const preciseRatio = (value: number, base: number) => (value / base < 1 && base > 0 ? `×${(value / base).toPrecision(2)}` : ratio(value, base));

function header({ results, load }: SandboxReportInput): string[] {
  const cpu = cpus();
  const srt =
    "error" in results.peers.srt
      ? "srt: not measured"
      : `srt: @anthropic-ai/sandbox-runtime ${results.peers.srt.version} on node ${results.peers.srt.nodeVersion}`;
  const uids = new Set([...(results.exec.idle?.uids ?? []), ...(results.exec.afterStreams?.uids ?? [])]);
  const lines = [
    "Outpost sandboxes (local driver: bubblewrap + in-sandbox supervisor) vs bare bwrap and srt, measured in the same run",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}, Node ${results.nodeVersion}; ${results.bwrapVersion}; ${srt}`,
    `  load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after; control plane as a child process (\`node bin/outpost.js serve\`), ready in ${fine(results.start?.ms ?? Number.NaN)}`,
  ];
  if (uids.size) lines.push(`  sandbox processes ran under host uid(s) ${[...uids].join(", ")}`);
  if (results.foreignSandboxProcesses > 0) {
    lines.push(
      `  ! ${results.foreignSandboxProcesses} process(es) in the sandbox uid range 200000–299999 belong to other control planes on this machine (not this run's; left alone)`,
    );
  }
  return lines;
}

function lifecycle({ results }: SandboxReportInput): string[] {
  const { lifecycle: l, options } = results;
  // The timestamps have millisecond resolution.
  const stages = Object.entries(l.stagesMs).map(([name, values]) => `${name} ${median(values).toFixed(0)} ms`);
  const lines = [
    `Sandbox lifecycle through the API, one sandbox at a time (client-observed, polling GET every 10 ms), N=${l.createMs.length} of ${options.lifecycleRuns}`,
    table([
      ["", "p50", "p95", "max", "min"],
      ["create (POST, 201 pending) → phase running", ...spread(l.createMs)],
      ["delete (DELETE, 202) → phase deleted", ...spread(l.deleteMs)],
    ]),
  ];
  if (stages.length) lines.push(`  server-side, medians from the resource's timestamps: ${stages.join("; ")}`);
  for (const line of l.lingering) lines.push(`  ! ${line}`);
  return lines;
}

function execLines({ results }: SandboxReportInput): string[] {
  const { peers, exec, options } = results;
  const bwrap = peers.bwrapMs;
  const srt = "error" in peers.srt ? undefined : peers.srt.ms;
  const base = bwrap.length ? median(bwrap) : Number.NaN;
  const row = (label: string, values: readonly number[] | undefined, why?: string) =>
    values?.length
      ? [label, ...spread(values).slice(0, 2), fine(Math.min(...values)), fine(Math.max(...values)), ratio(median(values), base)]
      : [label, why ?? "–"];
  const lines = [
    "Running `true`: an exec in a running sandbox vs a fresh sandbox per command",
    table([
      ["", "median", "p95", "min", "max", "× bare bwrap"],
      row(`bare bwrap --unshare-all … /bin/true, spawn to exit, N=${bwrap.length}`, bwrap, peers.bwrapError ? `cannot run: ${peers.bwrapError}` : undefined),
      row(`srt -c true (sandbox-runtime), spawn to exit, N=${srt?.length ?? 0}`, srt, "error" in peers.srt ? `cannot run: ${peers.srt.error}` : undefined),
      row(`Outpost POST /exec {command:"true"} (JSON), round trip, N=${exec.jsonMs.length} of ${options.execRuns}`, exec.jsonMs),
    ]),
  ];
  if (exec.commandMs.length) lines.push(`  of the exec round trip, the supervisor's own durationMs for \`sh -c true\`: median ${fine(median(exec.commandMs))}`);
  if (srt?.length && exec.jsonMs.length) lines.push(`  srt / Outpost exec: ${ratio(median(srt), median(exec.jsonMs))} (medians)`);
  if (srt?.length) lines.push("  srt: its own CLI per command (node start, proxies, bwrap), in an empty working directory with explicit default settings");
  return lines;
}

function streamLines({ results }: SandboxReportInput): string[] {
  const { peers, exec, options } = results;
  const bytes = options.streamBytes;
  const speed = (values: readonly number[]) => (values.length ? mbPerSecond(bytes, median(values)) : Number.NaN);
  const host = speed(peers.hostPipeMs);
  const api = speed(exec.streams.map((s) => s.ms));
  const row = (label: string, values: readonly number[]) =>
    values.length ? [label, `${speed(values).toFixed(0)} MB/s`, fine(median(values)), preciseRatio(speed(values), host)] : [label, "–"];
  const events = exec.streams[0]?.events;
  const cpu = (pick: (run: (typeof exec.streams)[number]) => number | undefined) => {
    const values = exec.streams.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? `${median(values).toFixed(2)} s` : "?";
  };
  return [
    `Streamed output: \`head -c ${bytes} /dev/zero\` (${(bytes / 1e6).toFixed(0)} MB, MB = 10^6 bytes), median of ${options.streamRuns}`,
    table([
      ["", "throughput", "time", "× host pipe"],
      row("host: sh -c '… | wc -c'", peers.hostWcMs),
      row("host: sh -c '…' read by a node process (baseline)", peers.hostPipeMs),
      row(
        "Outpost POST /exec, Accept: text/event-stream, base64 decoded by the client",
        exec.streams.map((s) => s.ms),
      ),
    ]),
    ...(Number.isFinite(api) && events
      ? [
          `  ${events} SSE events per run, ~${(bytes / events / 1024).toFixed(0)} KiB of output in each; CPU per run (medians): ` +
            `control plane ${cpu((r) => r.cpu.controlPlane)}, supervisor + head ${cpu((r) => r.cpu.supervisor)}, this client ${cpu((r) => r.cpu.client)} ` +
            `of ${(median(exec.streams.map((r) => r.ms)) / 1000).toFixed(2)} s wall on ${cpus().length} cores`,
        ]
      : []),
  ];
}

function memoryLines({ results }: SandboxReportInput): string[] {
  const { exec, loaded, planeFresh, planeAfterTests } = results;
  const row = (label: string, m: Memory | undefined, peak = true) =>
    m ? [label, mb(m.pssKb), mb(m.ussKb), mb(m.rssKb), peak ? mb(m.peakRssKb) : "–"] : [label, "–"];
  const n = loaded.running;
  const rows: string[][] = [
    ["", "PSS", "USS", "RSS", "peak RSS"],
    row(`supervisor (node), alone, idle ${results.options.idleMs / 1000} s after running`, exec.idle?.supervisor),
    row(`whole sandbox (${exec.idle?.sandbox.processes ?? "?"} processes: bwrap ×2 + supervisor), same moment`, exec.idle?.sandbox, false),
    row(
      `supervisor after the exec and ${results.options.streamRuns}×${(results.options.streamBytes / 1e6).toFixed(0)} MB stream tests`,
      exec.afterStreams?.supervisor,
    ),
    row("control plane (node), fresh start, 0 sandboxes", planeFresh?.controlPlane),
    row("control plane (node), after the tests, 0 sandboxes", planeAfterTests?.controlPlane),
    row(`control plane (node), ${n} idle running sandboxes`, loaded.plane?.controlPlane),
    row(`database (postmaster + children), 0 sandboxes after the tests`, planeAfterTests?.database, false),
    row(`database (postmaster + children), ${n} idle sandboxes`, loaded.plane?.database, false),
    row(`all processes of the ${n} sandboxes (${loaded.sandboxes?.processes ?? 0} processes)`, loaded.sandboxes, false),
  ];
  if (loaded.sandboxes && n > 0) {
    const per = loaded.sandboxes;
    rows.push([`  per sandbox (÷ ${n})`, mb(per.pssKb / n), mb(per.ussKb / n), mb(per.rssKb / n), "–"]);
  }
  const lines = [`Memory (PSS: shared pages split among the processes mapping them; USS: private pages; RSS: all resident)`, table(rows)];
  if (loaded.plane && planeAfterTests) {
    const before = planeAfterTests.controlPlane;
    const after = loaded.plane.controlPlane;
    const growth = after.pssKb - before.pssKb;
    lines.push(
      `  control plane with ${n} vs 0 sandboxes: PSS ${mb(after.pssKb)} vs ${mb(before.pssKb)} ${ratio(after.pssKb, before.pssKb)}, ` +
        `RSS ${mb(after.rssKb)} vs ${mb(before.rssKb)} ${ratio(after.rssKb, before.rssKb)}; ` +
        `${growth >= 0 ? "+" : "-"}${mb(Math.abs(growth))} PSS${n ? `, ${growth >= 0 ? "+" : "-"}${Math.abs(growth / n).toFixed(0)} kB per sandbox` : ""}`,
    );
  }
  if (loaded.supervisorsPssKb.length) {
    const pss = loaded.supervisorsPssKb;
    lines.push(
      `  supervisor PSS among the ${pss.length} idle ones: median ${mb(median(pss))} (${mb(Math.min(...pss))}–${mb(Math.max(...pss))}); ` +
        `alone it was ${exec.idle ? mb(exec.idle.supervisor.pssKb) : "–"} (shared pages split fewer ways)`,
    );
  }
  if (loaded.requested > 0) {
    lines.push(
      `  ${loaded.requested} sandboxes created at once (POSTs one after the other: ${(loaded.requestedMs / 1000).toFixed(1)} s, ` +
        `${(loaded.requestedMs / Math.max(1, loaded.requested)).toFixed(0)} ms each while provisioning ran): ${loaded.running} running after ${(loaded.allRunningMs / 1000).toFixed(1)} s` +
        (loaded.allDeletedMs !== undefined ? `; deleted at once, all deleted after ${(loaded.allDeletedMs / 1000).toFixed(1)} s` : ""),
    );
  }
  return lines;
}

function problems({ results }: SandboxReportInput): string[] {
  const all = [
    ...results.lifecycle.failures.map((f) => `lifecycle: ${f}`),
    ...results.exec.failures.map((f) => `exec: ${f}`),
    ...results.loaded.failures.map((f) => `idle sandboxes: ${f}`),
  ];
  if (!results.graceful) all.push("the control plane did not stop gracefully on SIGTERM");
  if (results.leftovers)
    all.push(`${results.leftovers} process(es) of this run's sandboxes were still alive after the control plane stopped (killed by the bench)`);
  if (all.length === 0) return [`No failures; every sandbox deleted through the API; no process of this run's sandboxes left after the control plane stopped.`];
  return ["Problems:", ...all.map((line) => `  ! ${line}`)];
}

export function sandboxReport(input: SandboxReportInput): string {
  return [
    "",
    ...header(input),
    "",
    ...lifecycle(input),
    "",
    ...execLines(input),
    "",
    ...streamLines(input),
    "",
    ...memoryLines(input),
    "",
    ...problems(input),
    `(sandbox bench took ${input.seconds.toFixed(0)} s)`,
    "",
  ].join("\n");
}
