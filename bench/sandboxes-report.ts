// Turns the sandbox bench's results into the printed summary: the issue's targets first,
// then create → running next to Node started in a bare bwrap (and where the time goes),
// exec next to bare bwrap and srt, streamed throughput (frames and SSE) next to a host
// pipe, then memory with many idle supervisor links.
import { cpus, release } from "node:os";
import { mb, ratio, table } from "./lib/format.ts";
import type { Memory } from "./lib/proc.ts";
import { percentile } from "./lib/stats.ts";
import { SEGMENTS, type Segment } from "./sandboxes/lifecycle.ts";
import type { LinkStage } from "./sandboxes/link.ts";
import type { SpawnSeries } from "./sandboxes/peers.ts";
import { fine, mbPerSecond, median, preciseRatio, spread, verdict } from "./sandboxes/report-format.ts";
import type { StreamRun } from "./sandboxes/stream.ts";
import type { SandboxResults } from "./sandboxes.ts";

export interface SandboxReportInput {
  results: SandboxResults;
  load: { before: number; after: number };
  seconds: number;
}

/** The issue's targets. */
export const TARGETS = { createP50Ms: 100, execVsBwrap: 1.3, framesVsHostPipe: 0.4 };

function header({ results, load }: SandboxReportInput): string[] {
  const cpu = cpus();
  const srt =
    "error" in results.peers.srt
      ? "srt: not measured"
      : `srt: @anthropic-ai/sandbox-runtime ${results.peers.srt.version} on node ${results.peers.srt.nodeVersion}`;
  const uids = new Set([...(results.exec.idle?.uids ?? []), ...(results.exec.afterStreams?.uids ?? [])]);
  const lines = [
    "Outpost sandboxes (local driver: bubblewrap + in-sandbox supervisor on link protocol 2) vs bare bwrap and srt, measured in the same run",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}; bench and control plane on Node ${results.nodeVersion}, supervisor on Node ${results.sandboxNodeVersion.replace(/^v/, "")} (/opt/outpost); ${results.bwrapVersion}; ${srt}`,
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

const streamMs = (runs: readonly StreamRun[]) => runs.map((r) => r.ms);

function targets({ results }: SandboxReportInput): string[] {
  const { lifecycle, exec, options, loaded, planeAfterTests } = results;
  const create = median(lifecycle.createMs);
  const node = median(lifecycle.node.ms);
  const execMs = median(exec.jsonMs);
  const bwrap = median(exec.bwrap.ms);
  const host = mbPerSecond(options.streamBytes, median(streamMs(exec.streams.host)));
  const frames = mbPerSecond(options.streamBytes, median(streamMs(exec.streams.frames)));
  const linkSpeed = mbPerSecond(options.streamBytes, median(streamMs(exec.streams.link)));
  const known = (value: number) => (Number.isFinite(value) ? value : undefined);
  const n = loaded.running;
  const perLinkRss = loaded.plane && planeAfterTests && n > 0 ? (loaded.plane.controlPlane.rssKb - planeAfterTests.controlPlane.rssKb) / n : undefined;
  const rows = [
    ["", "this run", "baseline, same run", "ratio", "target", ""],
    [
      "1. create → running through the API, p50",
      fine(create),
      `bwrap + node -e 0: ${fine(node)}`,
      preciseRatio(create, node),
      `≤ ${TARGETS.createP50Ms} ms`,
      verdict(known(create) === undefined ? undefined : create <= TARGETS.createP50Ms),
    ],
    [
      "   the same through the local driver alone (no API, no database)",
      fine(median(results.link.ensureMs)),
      "",
      preciseRatio(median(results.link.ensureMs), node),
      "",
      "",
    ],
    [
      "2. exec `true` round trip through the API, median",
      fine(execMs),
      `bwrap /bin/true: ${fine(bwrap)}`,
      preciseRatio(execMs, bwrap),
      `≤ ×${TARGETS.execVsBwrap}`,
      verdict(known(execMs / bwrap) === undefined ? undefined : execMs / bwrap <= TARGETS.execVsBwrap),
    ],
    [
      `3. ${(options.streamBytes / 1e6).toFixed(0)} MB through exec as frames (fetch)`,
      Number.isFinite(frames) ? `${frames.toFixed(0)} MB/s` : "–",
      `host pipe: ${Number.isFinite(host) ? host.toFixed(0) : "–"} MB/s`,
      preciseRatio(frames, host),
      `≥ ×${TARGETS.framesVsHostPipe}`,
      verdict(known(frames / host) === undefined ? undefined : frames / host >= TARGETS.framesVsHostPipe),
    ],
    [
      "   the link alone (SupervisorClient.execFrames, no API hop)",
      Number.isFinite(linkSpeed) ? `${linkSpeed.toFixed(0)} MB/s` : "–",
      "",
      preciseRatio(linkSpeed, host),
      "",
      "",
    ],
    [
      `4. control plane with ${n} idle links: RSS per link`,
      perLinkRss === undefined ? "–" : `${perLinkRss >= 0 ? "+" : "-"}${Math.abs(perLinkRss).toFixed(0)} kB`,
      `RSS with 0: ${planeAfterTests ? mb(planeAfterTests.controlPlane.rssKb) : "–"}`,
      loaded.plane && planeAfterTests ? preciseRatio(loaded.plane.controlPlane.rssKb, planeAfterTests.controlPlane.rssKb) : "–",
      "(reported)",
      "",
    ],
  ];
  return [
    "Targets of the issue (medians of this run; each baseline measured in turn with the figure it judges: one spawn after each create, each exec, each stream)",
    table(rows),
  ];
}

const SEGMENT_LABELS: Record<Segment, string> = {
  post: "POST → createdAt (API: auth, insert, 201)",
  queued: "createdAt → stage workspace starts (reconciler wakes, writes phase provisioning)",
  workspace: "workspace (folders, /etc files, spec.json, reachability checks)",
  toIsolation: "→ stage isolation starts (stage report written)",
  isolation: "isolation (cgroup, listen on the link socket, spawn bwrap until released)",
  toSupervisor: "→ stage supervisor starts (stage report written)",
  supervisor: "supervisor (stage)",
  "supervisor.node": "  of which: Node starts + evaluates supervisor.js, main() runs (supervisor.json startedAt)",
  "supervisor.link": "  of which: dial, hello/OK, HTTP/2 up, health call answered",
  toReady: "→ stage ready done (stage reports written)",
  ready: "ready (stage)",
  seen: "ready → the client sees phase running (phase written; GET every 10 ms)",
};

/** The driver-alone figure for a segment, where the driver reports that stage itself. */
const LINK_SEGMENT: Partial<Record<Segment, LinkStage>> = {
  workspace: "workspace",
  isolation: "isolation",
  supervisor: "supervisor",
  "supervisor.node": "supervisor.node",
  "supervisor.link": "supervisor.link",
};

function lifecycleLines({ results }: SandboxReportInput): string[] {
  const { lifecycle: l, options, peers, link } = results;
  const node = median(l.node.ms);
  const base = (values: readonly number[]) => preciseRatio(median(values), node);
  const row = (label: string, series: SpawnSeries | number[]) => {
    const values = Array.isArray(series) ? series : series.ms;
    const error = Array.isArray(series) ? undefined : series.error;
    return values.length ? [label, ...spread(values), base(values)] : [label, error ? `cannot run: ${error}` : "–"];
  };
  const lines = [
    `Create → running, one sandbox at a time, N=${l.createMs.length} of ${options.lifecycleRuns} through the API (client-observed, polling GET every 10 ms), each followed by one through the local driver alone; next to Node started in a bare bwrap`,
    table([
      ["", "p50", "p95", "max", "min", "× bwrap + node -e 0"],
      row(`bare bwrap … + /opt/outpost bound, node -e 0, spawn to exit, one after each create, N=${l.node.ms.length}`, l.node),
      row(`  the same, at the start in turn with the next two, N=${peers.bwrapNode.ms.length}`, peers.bwrapNode),
      row(`  the same, node -e "require('node:http2')", N=${peers.bwrapNodeHttp2.ms.length}`, peers.bwrapNodeHttp2),
      row(
        `  the same, node /opt/outpost/supervisor.js (evaluates the bundle, exits 2 at the usage), N=${peers.bwrapSupervisorLoad.ms.length}`,
        peers.bwrapSupervisorLoad,
      ),
      row(`local driver alone (in this process): ensure() → supervisor connected, N=${link.ensureMs.length}`, link.ensureMs),
      row("Outpost API: create (POST, 201 pending) → phase running", l.createMs),
      row(`local driver alone: remove() (SIGTERM, wait, cgroup, folders), N=${link.removeMs.length}`, link.removeMs),
      row("Outpost API: delete (DELETE, 202) → phase deleted", l.deleteMs),
    ]),
  ];
  for (const line of l.lingering) lines.push(`  ! ${line}`);

  const present = SEGMENTS.filter((key) => l.segmentsMs[key]?.length);
  if (present.length) {
    const total = median(l.createMs);
    const rows = [["where create → running goes (p50 of each segment)", "API p50", "API p95", "share", "driver alone p50"]];
    for (const key of present) {
      const values = l.segmentsMs[key]!;
      const alone = LINK_SEGMENT[key] ? (link.stagesMs[LINK_SEGMENT[key]] ?? []) : [];
      rows.push([
        SEGMENT_LABELS[key],
        fine(median(values)),
        fine(percentile(values, 95)),
        `${((median(values) / total) * 100).toFixed(0)}%`,
        alone.length ? fine(median(alone)) : "",
      ]);
    }
    const sum = present.filter((key) => !key.startsWith("supervisor.")).reduce((acc, key) => acc + median(l.segmentsMs[key]!), 0);
    rows.push(["sum of the p50s above (whole segments)", fine(sum), "", `${((sum / total) * 100).toFixed(0)}%`, fine(median(link.ensureMs))]);
    lines.push(table(rows));
    lines.push(
      "  API: from the resource's createdAt and stages[].startedAt/endedAt (GET /api/v1/sandboxes/{id}), the supervisor's own start and this client's",
      "  clock, all wall clock of this machine at 1 ms. The reconciler stamps a stage when it writes that report (in order, one database write each),",
      "  so a stage's stamps may trail the driver's own progress by the writes queued before it; the → rows are those writes. Driver alone: the",
      "  driver's onStage calls timed in this process (no database), sub-millisecond.",
    );
  }
  return lines;
}

function execLines({ results }: SandboxReportInput): string[] {
  const { peers, exec, options, link } = results;
  const srt = "error" in peers.srt ? undefined : peers.srt.ms;
  const base = median(exec.bwrap.ms);
  const row = (label: string, values: readonly number[] | undefined, why?: string) =>
    values?.length
      ? [label, ...spread(values).slice(0, 2), fine(Math.min(...values)), fine(Math.max(...values)), preciseRatio(median(values), base)]
      : [label, why ?? "–"];
  const lines = [
    "Running `true`: an exec in a running sandbox vs a fresh sandbox per command (exec, GET and the link alone in turn)",
    table([
      ["", "median", "p95", "min", "max", "× bare bwrap"],
      row(
        `bare bwrap --unshare-all … /bin/true, spawn to exit, one after each exec, N=${exec.bwrap.ms.length}`,
        exec.bwrap.ms,
        exec.bwrap.error ? `cannot run: ${exec.bwrap.error}` : undefined,
      ),
      row(`srt -c true (sandbox-runtime), spawn to exit, N=${srt?.length ?? 0}`, srt, "error" in peers.srt ? `cannot run: ${peers.srt.error}` : undefined),
      row(`Outpost POST /exec {command:"true"} (JSON), round trip, N=${exec.jsonMs.length} of ${options.execRuns}`, exec.jsonMs),
      row(`  the link alone: SupervisorClient.exec of \`true\` from the driver in this process, N=${link.execMs.length}`, link.execMs),
      row(`  the API alone: GET /api/v1/sandboxes/{id} (auth, the sandbox read from the database), N=${exec.getMs.length}`, exec.getMs),
    ]),
  ];
  if (exec.commandMs.length)
    lines.push(`  of the exec round trip, the supervisor's own durationMs for \`sh -c true\` (spawn to exit inside): median ${fine(median(exec.commandMs))}`);
  if (srt?.length && exec.jsonMs.length) lines.push(`  srt / Outpost exec: ${ratio(median(srt), median(exec.jsonMs))} (medians)`);
  if (srt?.length) lines.push("  srt: its own CLI per command (node start, proxies, bwrap), in an empty working directory with explicit default settings");
  return lines;
}

function streamLines({ results }: SandboxReportInput): string[] {
  const { exec, options } = results;
  const bytes = options.streamBytes;
  const speed = (values: readonly number[]) => (values.length ? mbPerSecond(bytes, median(values)) : Number.NaN);
  const host = speed(streamMs(exec.streams.host));
  const row = (label: string, values: readonly number[]) =>
    values.length ? [label, `${speed(values).toFixed(0)} MB/s`, fine(median(values)), preciseRatio(speed(values), host)] : [label, "–"];
  const { frames, framesHttp, sse, link } = exec.streams;
  const cpu = (runs: readonly StreamRun[], pick: (run: StreamRun) => number | undefined) => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? `${median(values).toFixed(2)} s` : "–";
  };
  const cpuLine = (name: string, runs: readonly StreamRun[], unit: string, client = "this client") => {
    if (!runs.length) return [];
    const { events, chunks } = runs[0]!;
    return [
      `  ${name}: ${events} ${unit} (~${(bytes / events / 1024).toFixed(0)} KiB each${chunks && chunks !== events ? `, ${chunks} reads` : ""}); CPU: ` +
        `control plane ${cpu(runs, (r) => r.cpu.controlPlane)}, supervisor + head ${cpu(runs, (r) => r.cpu.supervisor)}, ${client} ${cpu(runs, (r) => r.cpu.client)} ` +
        `in ${(median(streamMs(runs)) / 1000).toFixed(2)} s wall`,
    ];
  };
  return [
    `Streamed output: \`head -c ${bytes} /dev/zero\` (${(bytes / 1e6).toFixed(0)} MB, MB = 10^6 bytes), median of ${options.streamRuns}; the host and the four sandbox ways in turn`,
    table([
      ["", "throughput", "time", "× host pipe"],
      row("host: sh -c '… | wc -c'", streamMs(exec.streams.hostWc)),
      row("host: sh -c '…' into a pipe read by a node process (baseline)", streamMs(exec.streams.host)),
      row("the link alone: SupervisorClient.execFrames from the driver in this process", streamMs(link)),
      row("Outpost POST /exec, Accept: application/vnd.outpost.frames, read with fetch", streamMs(frames)),
      row("  the same frames read with node:http", streamMs(framesHttp)),
      row("Outpost POST /exec, Accept: text/event-stream, base64 decoded by the client", streamMs(sse)),
    ]),
    `  CPU seconds per run (medians) on ${cpus().length} cores:`,
    ...cpuLine("link alone", link, "stdout chunks", "this process (the link's client)"),
    ...cpuLine("frames, fetch", frames, "frames"),
    ...cpuLine("frames, node:http", framesHttp, "frames"),
    ...cpuLine("SSE", sse, "events"),
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
      `supervisor after the exec and ${results.options.streamRuns}×3×${(results.options.streamBytes / 1e6).toFixed(0)} MB stream tests`,
      exec.afterStreams?.supervisor,
    ),
    row("control plane (node), fresh start, 0 sandboxes", planeFresh?.controlPlane),
    row("control plane (node), after the tests, 0 links", planeAfterTests?.controlPlane),
    row(`control plane (node), ${n} idle links (${n} running sandboxes)`, loaded.plane?.controlPlane),
    row(`database (postmaster + children), 0 sandboxes after the tests`, planeAfterTests?.database, false),
    row(`database (postmaster + children), ${n} idle sandboxes`, loaded.plane?.database, false),
    row(`all processes of the ${n} sandboxes (${loaded.sandboxes?.processes ?? 0} processes)`, loaded.sandboxes, false),
  ];
  if (loaded.sandboxes && n > 0) {
    const per = loaded.sandboxes;
    rows.push([`  per sandbox (÷ ${n})`, mb(per.pssKb / n), mb(per.ussKb / n), mb(per.rssKb / n), "–"]);
  }
  const lines = [`Memory (PSS: shared pages split among the processes mapping them; USS: private pages; RSS: all resident)`, table(rows)];
  if (loaded.plane && planeAfterTests && n > 0) {
    const before = planeAfterTests.controlPlane;
    const after = loaded.plane.controlPlane;
    const signed = (kb: number) => `${kb >= 0 ? "+" : "-"}${Math.abs(kb).toFixed(0)} kB`;
    lines.push(
      `  control plane with ${n} idle links vs 0: RSS ${mb(after.rssKb)} vs ${mb(before.rssKb)} ${preciseRatio(after.rssKb, before.rssKb)}, ` +
        `PSS ${mb(after.pssKb)} vs ${mb(before.pssKb)} ${preciseRatio(after.pssKb, before.pssKb)}`,
      `  per link: (RSS with ${n} − RSS with 0) / ${n} = ${signed((after.rssKb - before.rssKb) / n)}; PSS ${signed((after.pssKb - before.pssKb) / n)}; ` +
        `USS ${signed((after.ussKb - before.ussKb) / n)} (one unix socket, one HTTP/2 session and its bookkeeping each; V8's heap grows in steps, so small N reads coarse)`,
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
  const { peers } = results;
  const all = [
    ...[results.lifecycle.node, results.exec.bwrap, peers.bwrapNode, peers.bwrapNodeHttp2, peers.bwrapSupervisorLoad]
      .filter((s) => s.error)
      .map((s) => `baseline: ${s.error}`),
    ...results.lifecycle.failures.map((f) => `lifecycle: ${f}`),
    ...results.exec.failures.map((f) => `exec: ${f}`),
    ...results.exec.streams.failures.map((f) => `stream: ${f}`),
    ...results.link.failures.map((f) => `driver alone: ${f}`),
    ...results.loaded.failures.map((f) => `idle sandboxes: ${f}`),
  ];
  if (!results.graceful) all.push("the control plane did not stop gracefully on SIGTERM");
  if (results.leftovers)
    all.push(`${results.leftovers} process(es) of this run's sandboxes were still alive after the control plane stopped (killed by the bench)`);
  if (all.length === 0) return [`No failures; every sandbox deleted through the API; no process of this run's sandboxes left after the control plane stopped.`];
  return ["Problems:", ...all.map((line) => `  ! ${line}`)];
}

/** Whether the run had failures (run.ts sets the exit code from it). */
export function sandboxProblems(results: SandboxResults): boolean {
  return problems({ results, load: { before: 0, after: 0 }, seconds: 0 })[0] === "Problems:";
}

export function sandboxReport(input: SandboxReportInput): string {
  return [
    "",
    ...header(input),
    "",
    ...targets(input),
    "",
    ...lifecycleLines(input),
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
