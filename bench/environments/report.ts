// The environments bench's printed summary: the issue's goals first, then create → first
// command per kind next to the two bwrap baselines, where create → running goes (median per
// stage and per gap between stages), the setup cache's miss and hit, and the idle pools' memory.
import { cpus, release } from "node:os";
import type { EnvironmentsResults } from "../environments.ts";
import { KINDS } from "../environments.ts";
import { mb, ms, ratio, table, timing } from "../lib/format.ts";
import { summarize } from "../lib/stats.ts";
import { fine, median, verdict } from "../sandboxes/report-format.ts";
import type { Segment } from "./create.ts";
import type { PoolMemory } from "./pool.ts";

/** The issue's goals for create → first command, p50. */
export const GOALS = { warmMs: 50, coldMs: 100 };

/** Segment names of all creates in one order: each new name goes after the one it followed. */
export function segmentOrder(runs: readonly (readonly { name: string }[])[]): string[] {
  const order: string[] = [];
  for (const segments of runs) {
    let at = -1;
    for (const { name } of segments) {
      const found = order.indexOf(name);
      if (found === -1) order.splice(++at, 0, name);
      else at = found;
    }
  }
  return order;
}

function goals(results: EnvironmentsResults): string[] {
  const lines = ["  goals (issue 20), create → first command p50:"];
  for (const kind of KINDS) {
    const values = results.creates[kind.key].map((m) => m.totalMs);
    const goal = kind.poolSize > 0 ? GOALS.warmMs : GOALS.coldMs;
    const p50 = median(values);
    lines.push(`    ${kind.label}: ${fine(p50)} against ≤ ${goal} ms: ${verdict(values.length ? p50 <= goal : undefined)}`);
  }
  return lines;
}

function createTable(results: EnvironmentsResults): string {
  const bwrap = median(results.baselines.bwrapTrue);
  const node = median(results.baselines.bwrapNode);
  const rows = [["create → first command", "median (min–max)", "p90", "→ running", "first command", "vs bwrap true", "vs bwrap node"]];
  for (const kind of KINDS) {
    const measures = results.creates[kind.key];
    if (!measures.length) continue;
    const total = summarize(measures.map((m) => m.totalMs));
    rows.push([
      kind.label,
      timing(total),
      ms(total.p90),
      fine(median(measures.map((m) => m.runningMs))),
      fine(median(measures.map((m) => m.execMs))),
      ratio(total.median, bwrap),
      ratio(total.median, node),
    ]);
  }
  for (const [label, values] of [
    ["bare bwrap … true (spawn → exit)", results.baselines.bwrapTrue],
    ["bare bwrap … node -e 0 (sandboxes' Node)", results.baselines.bwrapNode],
  ] as const) {
    if (!values.length) continue;
    const s = summarize(values);
    rows.push([label, timing(s), ms(s.p90), "", "", ratio(s.median, bwrap), ratio(s.median, node)]);
  }
  return table(rows);
}

/** Median per segment (stage or gap) for each column of measures. */
function segmentTable(title: string, columns: { label: string; measures: readonly { segments: Segment[] }[] }[], extra: string[][] = []): string {
  const order = segmentOrder(columns.flatMap((column) => column.measures.map((m) => m.segments)));
  const cell = (measures: readonly { segments: Segment[] }[], name: string) => {
    const values = measures.flatMap((m) => m.segments.filter((s) => s.name === name).map((s) => s.ms));
    return values.length ? fine(median(values)) : "";
  };
  const rows = [[title, ...columns.map((column) => column.label)]];
  for (const name of order) rows.push([segmentLabel(name), ...columns.map((column) => cell(column.measures, name))]);
  return table([...rows, ...extra]);
}

/** Where create → first command goes per kind; the last create's stage messages under it. */
function createSegmentsTable(results: EnvironmentsResults): string[] {
  const kinds = KINDS.filter((kind) => results.creates[kind.key].length);
  if (!kinds.length) return [];
  const columns = kinds.map((kind) => ({
    label: kind.label.replace("warm pool", "warm").replace(", + project database", " + db"),
    measures: results.creates[kind.key],
  }));
  const exec = ["exec true (the first command)", ...kinds.map((kind) => fine(median(results.creates[kind.key].map((m) => m.execMs))))];
  const lines = ["", segmentTable("where create → first command goes (medians)", columns, [exec])];
  lines.push("  stage messages of the last create of each kind:");
  for (const kind of kinds) {
    const last = results.creates[kind.key].at(-1)!;
    const messages = Object.entries(last.messages).map(([stage, message]) => `${stage}: ${message.slice(0, 120)}`);
    lines.push(`    ${kind.label}: ${messages.join("; ") || "(none)"}`);
  }
  return lines;
}

function segmentLabel(name: string): string {
  if (name === "post") return "POST → row written (createdAt)";
  if (name === "queued") return "row → first stage starts";
  if (name === "event") return "last stage ends → running event read";
  return name.startsWith("→ ") ? `  gap ${name}` : `stage ${name}`;
}

function setupTable(results: EnvironmentsResults): string[] {
  const { miss, hit } = results.setup;
  if (!miss.length || !hit.length) return [];
  const rows = [["setup cache (setup `true`, debian)", "create → running", "p90", "vs hit"]];
  const hitMedian = median(hit.map((m) => m.runningMs));
  const labelled = [
    ["miss (a build sandbox runs the script)", miss],
    ["hit (the layer is there)", hit],
  ] as const;
  for (const [label, measures] of labelled) {
    const running = summarize(measures.map((m) => m.runningMs));
    rows.push([label, timing(running), ms(running.p90), ratio(running.median, hitMedian)]);
  }
  return [
    "",
    table(rows),
    `  ${miss.length} round(s); e.g. miss: ${miss.at(-1)?.message}; hit: ${hit.at(-1)?.message}`,
    segmentTable(
      "where the setup cache's create → running goes (medians)",
      labelled.map(([label, measures]) => ({ label: label.split(" ")[0]!, measures })),
    ),
  ];
}

function memoryTable(results: EnvironmentsResults): string[] {
  const entries = [
    ["host image", results.memory.host],
    ["debian:bookworm", results.memory.debian],
  ] as const;
  const rows = [["idle pool", "members", "PSS total", "PSS per member (min–max)", "USS per member", "processes each"]];
  for (const [label, memory] of entries) {
    if (!memory?.members.length) continue;
    rows.push(memoryRow(label, memory));
  }
  return rows.length > 1 ? ["", table(rows)] : [];
}

function memoryRow(label: string, memory: PoolMemory): string[] {
  const pss = memory.members.map((m) => m.pssKb);
  const total = pss.reduce((a, b) => a + b, 0);
  return [
    label,
    String(memory.members.length),
    mb(total),
    `${mb(median(pss))} (${mb(Math.min(...pss))}–${mb(Math.max(...pss))})`,
    mb(median(memory.members.map((m) => m.ussKb))),
    String(median(memory.members.map((m) => m.processes))),
  ];
}

export function environmentsReport(results: EnvironmentsResults, seconds: number): string {
  const cpu = cpus();
  const { options } = results;
  const lines = [
    `\nenvironments, local driver (${options.creates} creates per kind, setup cache ${options.setupRounds} rounds, pools of ${options.pool}; ${seconds.toFixed(0)} s)`,
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}; ${results.bwrapVersion}; sandboxes' Node ${results.sandboxNodeVersion}; load average ${results.load.before.toFixed(2)} before, ${results.load.after.toFixed(2)} after`,
    `  control plane ready in ${results.planeStartMs === undefined ? "–" : ms(results.planeStartMs)}; debian:bookworm image built before timing in ${results.imageBuild ? `${ms(results.imageBuild.ms)}${results.imageBuild.cached ? " (cached)" : ""}` : "–"}; running seen on the event stream, first command \`true\` through POST /exec (JSON)`,
    ...goals(results),
    createTable(results),
    ...createSegmentsTable(results),
    ...setupTable(results),
    ...memoryTable(results),
  ];
  if (results.leftovers) lines.push(`  ! ${results.leftovers} process(es) of this run's sandboxes were alive after the control plane stopped (killed)`);
  for (const failure of results.failures) lines.push(`  FAILED: ${failure}`);
  return `${lines.join("\n")}\n`;
}
