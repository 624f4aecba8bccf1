// The git bench's printed summary: clone times (host baseline, in a sandbox through the
// egress proxy, a sandbox created with the repository) and checkpoint times (host baseline,
// the same git work in the sandbox, the API), each with its ratio to the baseline, then
// the problems.
import { cpus, release } from "node:os";
import type { CheckpointWay, GitResults } from "../git.ts";
import { table } from "../lib/format.ts";
import { fine, median, preciseRatio } from "../sandboxes/report-format.ts";

const seconds = (ms: number) => (Number.isFinite(ms) ? (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : fine(ms)) : "–");

function row(label: string, values: readonly number[], base?: readonly number[]): string[] {
  if (!values.length) return [label, "0", "–"];
  return [
    label,
    String(values.length),
    seconds(median(values)),
    `${seconds(Math.min(...values))} – ${seconds(Math.max(...values))}`,
    base?.length ? preciseRatio(median(values), median(base)) : "",
  ];
}

const CHECKPOINT_LABELS: Record<CheckpointWay, string> = {
  hostClean: "clean clone, host (baseline)",
  sandboxClean: "clean clone, in the sandbox (exec)",
  apiClean: "clean clone, POST /git/checkpoints",
  hostDirty: "after edits, host (baseline)",
  sandboxDirty: "after edits, in the sandbox (exec)",
  apiDirty: "after edits, POST /git/checkpoints",
  hostCold: "empty temp index (all hashed), host (baseline)",
  sandboxCold: "empty temp index (all hashed), in the sandbox (exec)",
};

const BASELINE: Record<CheckpointWay, CheckpointWay> = {
  hostClean: "hostClean",
  sandboxClean: "hostClean",
  apiClean: "hostClean",
  hostDirty: "hostDirty",
  sandboxDirty: "hostDirty",
  apiDirty: "hostDirty",
  hostCold: "hostCold",
  sandboxCold: "hostCold",
};

export function gitProblems(results: GitResults): string[] {
  const problems = [...results.failures];
  if (results.leftovers > 0) problems.push(`${results.leftovers} process(es) of the sandboxes were still alive after the control plane stopped`);
  if (!results.graceful) problems.push("the control plane did not stop gracefully");
  for (const create of results.creates)
    if (create.stage && create.stage.state !== "done") problems.push(`repository stage ended ${create.stage.state}: ${create.stage.message ?? ""}`);
  return problems;
}

export function gitReport(results: GitResults, load: { before: number; after: number }, totalSeconds: number): string {
  const cpu = cpus();
  const { repo, options } = results;
  const mb = (bytes: number | undefined) => (bytes === undefined ? "?" : `${(bytes / 1e6).toFixed(1)} MB`);
  const lines = [
    `Outpost git: clone and checkpoint of a ${repo?.files ?? options.files}-file repository served by git http-backend (token auth) on 127.0.0.1, vs plain host git in the same run`,
    `  ${cpu.length} × ${cpu[0]?.model.trim() ?? "cpu"}, Linux ${release()}; ${results.gitVersion}; load average ${load.before.toFixed(2)} before, ${load.after.toFixed(2)} after; ${totalSeconds.toFixed(0)} s in all`,
    repo
      ? `  repository: ${repo.files} files, ${mb(repo.worktreeBytes)} of file content, ${mb(repo.packBytes)} of objects; generated with git fast-import (+ gc) in ${seconds(repo.importMs)}; control plane ready in ${seconds(results.startMs ?? Number.NaN)}`
      : "  repository: not made",
    "",
    `Clone, ${options.runs} run(s) of each in turn (the scripts time git alone; sandboxes: POST → GET sees running, polled every 100 ms)`,
  ];
  const stageMs = results.creates.map((c) => c.stage?.ms).filter((ms): ms is number => ms !== undefined);
  const auth =
    results.sandboxAuth === "header" ? "token passed by the bench as -c http.extraHeader: the proxy did not inject it" : "token injected by the egress proxy";
  lines.push(
    table([
      ["", "N", "median", "min – max", "× host"],
      row("git clone on the host, 127.0.0.1 (baseline)", results.hostClone),
      row(`git clone in a sandbox through the egress proxy (${auth})`, results.sandboxClone, results.hostClone),
      row(
        "sandbox create → running, project with repoUrl",
        results.creates.map((c) => c.ms),
        results.hostClone,
      ),
      row("  its repository stage (stage's startedAt → endedAt)", stageMs, results.hostClone),
    ]),
  );
  if (results.creates.length && !results.creates.some((c) => c.stage)) {
    lines.push(`  no repository stage in the sandboxes' stages (${results.stageNames.join(", ")}): create → running does not include a clone`);
  }

  lines.push(
    "",
    `Checkpoint: the checkpoint service's git work (temporary index copied from .git/index, add -A, write-tree ×2, commit-tree ×2), ${options.runs} run(s) of each in turn; the sandbox's repository: ${results.sandboxRepo ?? "–"}`,
    `  "after edits": ${options.edits} tracked files edited, ${options.edits} untracked added, ${Math.floor(options.edits / 5)} deleted`,
  );
  const rows = [["", "N", "median", "min – max", "× host"]];
  for (const way of Object.keys(CHECKPOINT_LABELS) as CheckpointWay[]) {
    if (way.startsWith("api") && !results.checkpoints[way].length) continue;
    if (way === "hostDirty" || way === "hostCold") rows.push([""]);
    rows.push(row(CHECKPOINT_LABELS[way], results.checkpoints[way], BASELINE[way] === way ? undefined : results.checkpoints[BASELINE[way]]));
  }
  lines.push(table(rows).replace(/^ +$/gm, ""));
  if (results.apiCheckpointSkipped) lines.push(`  POST /git/checkpoints not measured: ${results.apiCheckpointSkipped}`);
  const { host, sandbox } = results.bundle;
  if (host || sandbox) {
    lines.push(
      `  the first checkpoint's bundle (git bundle create of the whole history): host ${host ? `${seconds(host.ms)}, ${mb(host.bytes)}` : "–"}; sandbox ${sandbox ? `${seconds(sandbox.ms)}, ${mb(sandbox.bytes)}${host ? ` (${preciseRatio(sandbox.ms, host.ms)})` : ""}` : "–"}`,
    );
  }

  const problems = gitProblems(results);
  lines.push("", problems.length ? `Problems (${problems.length}):` : "Problems: none");
  for (const problem of problems) lines.push(`  ! ${problem}`);
  return `${lines.join("\n")}\n`;
}
