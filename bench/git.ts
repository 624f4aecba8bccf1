// The `git` group (issue 18): a large repository (50 000 small files by default, made with
// `git fast-import`) served over smart HTTP by `git http-backend` behind token auth
// (test/helpers/git-http-server.ts), then, in the same run:
//   clone       plain `git clone` on the host straight from 127.0.0.1 (the baseline), next
//               to `git clone` in a running sandbox through the egress proxy (POST /exec),
//               and to a sandbox created for a project with that repoUrl until it runs
//               (its `repository` stage clones into /workspace, when the control plane has it)
//   checkpoint  the checkpoint service's git work (temporary index, add -A, write-tree, two
//               commit-trees) on the clean clone and after edits, on the host and in the
//               sandbox, plus the bundle of the first checkpoint; and POST
//               /sandboxes/{id}/git/checkpoints when the control plane serves it
// The token is a project `credential` injected by the egress proxy for the repository's
// host; if the proxy does not inject it (yet), the sandbox clones get it as an extra
// header on the command line and the report says so. By concern, under bench/git/:
// files.ts (the repository's contents), commands.ts (the timed scripts), options.ts,
// report.ts. Everything started is stopped, also on failure or Ctrl-C.

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGitHttpServer } from "../test/helpers/git-http-server.ts";
import { CHECKPOINT, CLONE, EDIT, hostEnv, inSandboxTimed, onHost, type Timed, untimed } from "./git/commands.ts";
import { benchFiles } from "./git/files.ts";
import type { GitBenchOptions } from "./git/options.ts";
import { OutpostApi } from "./lib/api.ts";
import { deferCleanup, sleep } from "./lib/cleanup.ts";
import { finishRun } from "./lib/finish-run.ts";
import { benchDataDir, REPO_ROOT, startTimed, stopGracefully } from "./lib/outpost.ts";
import { killSandboxes, leftoverPids } from "./lib/sandbox-processes.ts";
import { deleteDeleted, describe, failedText, type Log, type Sandbox, Tracker } from "./sandboxes/tracker.ts";

export { GIT_OPTION_ENV, type GitBenchOptions, gitBenchOptions } from "./git/options.ts";

export const CHECKPOINT_WAYS = ["hostClean", "sandboxClean", "apiClean", "hostDirty", "sandboxDirty", "apiDirty", "hostCold", "sandboxCold"] as const;
export type CheckpointWay = (typeof CHECKPOINT_WAYS)[number];

export interface GitResults {
  options: GitBenchOptions;
  gitVersion: string;
  repo?: { files: number; importMs: number; packBytes: number; worktreeBytes?: number };
  startMs?: number;
  /** Plain host `git clone` from 127.0.0.1 (baseline), ms. */
  hostClone: number[];
  /** `git clone` inside a running sandbox through the egress proxy, ms. */
  sandboxClone: number[];
  /** How the sandbox's clones got the token: injected by the proxy, or a header the bench passed. */
  sandboxAuth?: "proxy" | "header";
  /** Sandboxes created for the project: POST → running, and the repository stage's own time. */
  creates: { ms: number; stage?: { state: string; ms?: number; message?: string } }[];
  /** The stage names the sandboxes reported (to say what is missing). */
  stageNames: string[];
  /** Where the sandbox's checkpoints ran: /workspace (the stage's clone) or a clone the bench made. */
  sandboxRepo?: string;
  checkpoints: Record<CheckpointWay, number[]>;
  bundle: { host?: { ms: number; bytes: number }; sandbox?: { ms: number; bytes: number } };
  /** Why POST /git/checkpoints was not measured, if it was not. */
  apiCheckpointSkipped?: string;
  failures: string[];
  leftovers: number;
  graceful: boolean;
}

const PROJECT = "bench-git";
const REPO = "bench";
const CREATE_TIMEOUT_MS = 20 * 60_000;
/** Slow enough not to load a 2-core machine while it clones, fine enough for a clone of seconds. */
const POLL_MS = 100;

/** Bytes of the files under `path` (their sizes, not the disk blocks they take), .git aside. */
const du = (path: string) => Number(execFileSync("du", ["-sb", "--exclude=.git", path], { encoding: "utf8" }).split("\t")[0]);

/** A clone's time, once it is known to hold every file of the repository. */
function cloned(what: string, timed: Timed, files: number): number {
  if (Number(timed.values.files) !== files) throw new Error(`${what} checked out ${timed.values.files} files, not ${files}`);
  return timed.ms;
}

async function createAndWait(api: OutpostApi, run: Tracker): Promise<{ sandbox: Sandbox; ms: number }> {
  const started = performance.now();
  const pending = await api.expect<Sandbox>(201, "POST", `/api/v1/projects/${PROJECT}/sandboxes`);
  run.created.push(pending.id);
  const deadline = Date.now() + CREATE_TIMEOUT_MS;
  while (true) {
    run.check();
    const sandbox = await api.expect<Sandbox>(200, "GET", `/api/v1/sandboxes/${pending.id}`);
    if (sandbox.phase === "running") return { sandbox, ms: performance.now() - started };
    if (sandbox.phase === "failed") throw new Error(failedText(sandbox));
    if (Date.now() > deadline) throw new Error(`sandbox ${pending.id} not running after ${CREATE_TIMEOUT_MS / 1000} s: ${JSON.stringify(sandbox.stages)}`);
    await sleep(POLL_MS);
  }
}

function stageOf(sandbox: Sandbox): GitResults["creates"][number]["stage"] {
  const stage = sandbox.stages.find((s) => s.name === "repository");
  if (!stage) return undefined;
  const ms = stage.startedAt && stage.endedAt ? Date.parse(stage.endedAt) - Date.parse(stage.startedAt) : undefined;
  return { state: stage.state, ...(ms === undefined ? {} : { ms }), ...(stage.message ? { message: stage.message } : {}) };
}

export async function benchGit(options: GitBenchOptions, log: Log = () => {}): Promise<GitResults> {
  for (const file of ["dist/outpost.js", "dist/supervisor.js", "dist/opt-outpost/supervisor.js"]) {
    if (!existsSync(join(REPO_ROOT, file))) throw new Error(`${file} is missing: run \`npm run build\` first (npm run bench does)`);
  }
  const results: GitResults = {
    options,
    gitVersion: execFileSync("git", ["--version"], { encoding: "utf8" }).trim(),
    hostClone: [],
    sandboxClone: [],
    creates: [],
    stageNames: [],
    checkpoints: Object.fromEntries(CHECKPOINT_WAYS.map((way) => [way, []])) as unknown as Record<CheckpointWay, number[]>,
    bundle: {},
    failures: [],
    leftovers: 0,
    graceful: false,
  };

  const server = await startGitHttpServer({ token: `bench-${Math.random().toString(36).slice(2)}` });
  const serverDone = deferCleanup("the git bench's HTTP git server", () => server.stop());
  const hostDir = mkdtempSync(join(tmpdir(), "outpost-bench-git-host-"));
  const hostDone = deferCleanup(`host clones ${hostDir}`, () => rmSync(hostDir, { recursive: true, force: true }));
  const env = hostEnv(hostDir);
  const onHostRun = (what: string, script: string, args: readonly string[]) => onHost(what, script, args, env);

  log(`generating a repository of ${options.files} files with git fast-import`);
  const importStarted = performance.now();
  await server.importRepo(REPO, benchFiles(options.files), { message: `${options.files} generated files\n` });
  execFileSync("git", ["--git-dir", server.gitDir(REPO), "gc", "--quiet"], { env });
  const importMs = performance.now() - importStarted;
  const packBytes = Number(execFileSync("du", ["-sb", join(server.gitDir(REPO), "objects")], { encoding: "utf8" }).split("\t")[0]);
  results.repo = { files: options.files, importMs, packBytes };
  log(`repository ready in ${(importMs / 1000).toFixed(1)} s (objects: ${(packBytes / 1e6).toFixed(1)} MB, after gc)`);

  // The baseline: host git straight to the server, with the token as a header.
  const hostClone = (i: number) =>
    onHostRun("git clone", CLONE, [
      join(hostDir, `clone-${i}`),
      "-c",
      `http.extraHeader=Authorization: ${server.authHeader}`,
      "clone",
      "--quiet",
      server.localUrl(REPO),
    ]);
  const dir = benchDataDir("outpost-bench-git-");
  const { plane, ms: startMs } = await startTimed(dir);
  results.startMs = startMs;
  const api = new OutpostApi(plane.url, readFileSync(join(dir, "admin-token"), "utf8").trim());
  const run = new Tracker();
  const cleanupDone = deferCleanup("the git bench's sandboxes", async () => {
    run.stopping = true;
    for (const id of run.live()) await api.call("DELETE", `/api/v1/sandboxes/${id}`).catch(() => undefined);
    await killSandboxes(run.created);
    api.close();
  });

  try {
    await api.expect(201, "POST", "/api/v1/projects", {
      name: PROJECT,
      repoUrl: server.url(REPO),
      egress: { level: "custom", allow: [`host.outpost.internal:${server.port}`] },
    });
    await api.expect(200, "POST", `/api/v1/projects/${PROJECT}/secrets`, {
      name: "GITHUB_TOKEN",
      value: server.token,
      kind: "credential",
      inject: [{ host: "host.outpost.internal", header: "authorization", format: "basic" }],
    });

    let first: Sandbox | undefined;
    for (let i = 0; i < options.sandboxes; i++) {
      log(`sandbox ${i + 1}/${options.sandboxes} for a project with repoUrl ${server.url(REPO)}: create → running`);
      const { sandbox, ms } = await createAndWait(api, run);
      const stage = stageOf(sandbox);
      results.creates.push({ ms, ...(stage ? { stage } : {}) });
      results.stageNames = sandbox.stages.map((s) => s.name);
      log(`  running after ${(ms / 1000).toFixed(1)} s; repository stage: ${stage ? `${stage.state}, ${stage.ms ?? "?"} ms` : "none"}`);
      if (!first) first = sandbox;
      else await deleteDeleted(api, run, sandbox.id);
    }
    const sandboxId = first!.id;
    const inSandboxRun = (what: string, script: string, args: readonly string[]) => inSandboxTimed(api, sandboxId, what, script, args);

    // Does the proxy put the token in? One ls-remote without it tells.
    const probe = await api.expect<{ exitCode: number | null; stderr: string }>(200, "POST", `/api/v1/sandboxes/${sandboxId}/exec`, {
      command: ["git", "ls-remote", "--heads", server.url(REPO)],
      env: { GIT_TERMINAL_PROMPT: "0" },
    });
    results.sandboxAuth = probe.exitCode === 0 ? "proxy" : "header";
    if (probe.exitCode !== 0) log(`  the proxy did not inject the token (${probe.stderr.trim().split("\n").pop()}); sandbox clones pass it as a header`);
    const authArgs = results.sandboxAuth === "header" ? ["-c", `http.extraHeader=Authorization: ${server.authHeader}`] : [];
    const sandboxClone = (i: number) =>
      inSandboxRun("git clone", CLONE, [`/home/outpost/bench-clones/clone-${i}`, ...authArgs, "clone", "--quiet", server.url(REPO)]);

    log(`clone, ${options.runs} run(s) each in turn: host git clone from 127.0.0.1, git clone in the sandbox through the egress proxy`);
    for (let i = 0; i < options.runs; i++) {
      const last = i === options.runs - 1;
      results.hostClone.push(cloned("host git clone", await hostClone(i), options.files));
      if (!last) rmSync(join(hostDir, `clone-${i}`), { recursive: true, force: true });
      results.sandboxClone.push(cloned("git clone in the sandbox", await sandboxClone(i), options.files));
      if (!last) await untimed(inSandboxRun.bind(null, "rm"), 'rm -rf "$1"', [`/home/outpost/bench-clones/clone-${i}`]);
      log(`  run ${i + 1}: host ${results.hostClone.at(-1)!.toFixed(0)} ms, sandbox ${results.sandboxClone.at(-1)!.toFixed(0)} ms`);
    }
    const hostRepo = join(hostDir, `clone-${options.runs - 1}`);
    results.repo.worktreeBytes = du(hostRepo);

    // The stage's clone in /workspace when there is one (so the API's checkpoints and the
    // scripts work on the same repository), else the bench's last clone.
    const headSha = execFileSync("git", ["-C", hostRepo, "rev-parse", "HEAD"], { encoding: "utf8", env }).trim();
    const workspace = await api.expect<{ exitCode: number | null; stdout: string }>(200, "POST", `/api/v1/sandboxes/${sandboxId}/exec`, {
      command: ["git", "-C", "/workspace", "rev-parse", "HEAD"],
    });
    const stageCloned = workspace.exitCode === 0 && workspace.stdout.trim() === headSha;
    results.sandboxRepo = stageCloned ? "/workspace" : `/home/outpost/bench-clones/clone-${options.runs - 1}`;
    let apiCheckpoints = stageCloned;
    if (!stageCloned) results.apiCheckpointSkipped = "/workspace holds no clone of the repository (no repository stage)";

    const checkpointApi = async (): Promise<number | undefined> => {
      if (!apiCheckpoints) return undefined;
      const started = performance.now();
      const response = await api.call("POST", `/api/v1/sandboxes/${sandboxId}/git/checkpoints`, {});
      const ms = performance.now() - started;
      if (response.status === 404 || response.status === 405) {
        apiCheckpoints = false;
        results.apiCheckpointSkipped = `POST /git/checkpoints answered ${response.status} (not served yet?)`;
        return undefined;
      }
      if (response.status !== 200 && response.status !== 201) throw new Error(`POST /git/checkpoints → ${response.status}: ${response.text.slice(0, 500)}`);
      return ms;
    };
    const checkpoints = async (suffix: "Clean" | "Dirty") => {
      for (let i = 0; i < options.runs; i++) {
        const bundle = suffix === "Clean" && i === 0 ? ["bundle"] : [];
        const host = await onHostRun("checkpoint", CHECKPOINT, [hostRepo, "warm", ...bundle]);
        results.checkpoints[`host${suffix}`].push(host.ms);
        const inside = await inSandboxRun("checkpoint", CHECKPOINT, [results.sandboxRepo!, "warm", ...bundle]);
        results.checkpoints[`sandbox${suffix}`].push(inside.ms);
        if (bundle.length) {
          results.bundle.host = bundleOf(host);
          results.bundle.sandbox = bundleOf(inside);
        }
        const viaApi = await checkpointApi();
        if (viaApi !== undefined) results.checkpoints[`api${suffix}`].push(viaApi);
        log(
          `  checkpoint (${suffix.toLowerCase()}) run ${i + 1}: host ${host.ms.toFixed(0)} ms, sandbox ${inside.ms.toFixed(0)} ms${viaApi === undefined ? "" : `, API ${viaApi.toFixed(0)} ms`}`,
        );
      }
    };
    log(`checkpoints of the clean clone, ${options.runs} run(s) each in turn (${results.sandboxRepo} in the sandbox)`);
    await checkpoints("Clean");
    log(`editing ${options.edits} files, adding ${options.edits} untracked, deleting ${Math.floor(options.edits / 5)} (host and sandbox alike)`);
    await untimed(onHostRun.bind(null, "edit"), EDIT, [hostRepo, String(options.edits)]);
    await untimed(inSandboxRun.bind(null, "edit"), EDIT, [results.sandboxRepo, String(options.edits)]);
    await checkpoints("Dirty");
    log(`cold checkpoints (an empty temporary index: every file hashed), ${options.runs} run(s) each`);
    for (let i = 0; i < options.runs; i++) {
      results.checkpoints.hostCold.push((await onHostRun("checkpoint", CHECKPOINT, [hostRepo, "cold"])).ms);
      results.checkpoints.sandboxCold.push((await inSandboxRun("checkpoint", CHECKPOINT, [results.sandboxRepo, "cold"])).ms);
    }
    await deleteDeleted(api, run, sandboxId);
  } catch (error) {
    if (run.stopping) throw error;
    results.failures.push(describe(error));
    log(`git bench failed: ${describe(error)}`);
  } finally {
    if (!run.stopping) {
      await finishRun(api, run, plane, results, cleanupDone);
      await server.stop();
      serverDone();
      rmSync(hostDir, { recursive: true, force: true });
      hostDone();
    }
  }
  return results;
}

function bundleOf(timed: Timed): { ms: number; bytes: number } | undefined {
  const ns = Number(timed.values.bundle_ns);
  const bytes = Number(timed.values.bundle_bytes);
  return Number.isFinite(ns) && Number.isFinite(bytes) ? { ms: ns / 1e6, bytes } : undefined;
}
