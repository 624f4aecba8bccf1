// Nothing is lost when the control plane is killed (-9) in the middle of git work, and it is
// restarted on the same data dir:
//   - mid-clone (the `repository` stage fetching, or checking out): the sandbox still gets to
//     `running`, once, with the whole repository (clean status, fsck clean, every file, HEAD
//     on the remote's main);
//   - mid-checkpoint (a POST …/git/checkpoints in flight): every checkpoint listed afterwards
//     restores, a new one can be taken, and the host repository that keeps them passes fsck.
// The control plane runs as a separate process (bin/outpost.js serve) so it can be killed.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { adminToken, type ServeProcess, spawnServe } from "../helpers/process.ts";
import { deleteAndWait, exec, waitForPhase } from "../helpers/sandboxes.ts";
import { api } from "../helpers/server.ts";
import { collectSse, type SseEvent } from "../helpers/sse.ts";

const run = promisify(execFile);
const TOKEN = "ghp_SurvivesKillToken0123456789abcdefgh";
/** Enough for the clone to take a few seconds through the sandbox's proxy (about 10 MB of blobs). */
const FILES = 20_000;
const CLONE_TIMEOUT_MS = 5 * 60_000;

function* repositoryFiles(): Generator<[string, string]> {
  for (let i = 0; i < FILES; i++) yield [`d${i % 200}/f${i}.txt`, `file ${i}\n${"x".repeat(200 + (i % 500))}\n`];
}

/** Host git on a sandbox's workspace (owned by the sandbox's uid): read-only looks only. */
async function hostGit(workspace: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const out = await run("git", ["-c", "safe.directory=*", "-C", workspace, ...args], {
      env: { PATH: process.env.PATH, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout: out.stdout, stderr: out.stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("kill -9 of the control plane mid-clone and mid-checkpoint loses nothing", () => {
  let remote: GitHttpServer;
  let remoteHead: string;
  let dataDir: string;
  let serve: ServeProcess | undefined;
  let server: { url: string; token: string };
  const boxes: string[] = [];

  const start = async () => {
    serve = await spawnServe(dataDir);
    server = { url: serve.url, token: adminToken(dataDir) };
  };
  const kill = async () => {
    const current = serve as ServeProcess;
    serve = undefined;
    current.child.kill("SIGKILL");
    await current.exited;
    // What the killed control plane started and left running on purpose (its database
    // servers, sandboxes) may hold its output pipes open: this process lets go of them.
    current.child.stdout?.destroy();
    current.child.stderr?.destroy();
  };
  const sh = async (box: string, command: string) => {
    const result = await exec(server, box, ["sh", "-c", command]);
    assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
    return String(result.stdout).trim();
  };
  const workspace = (box: string) => join(dataDir, "sandboxes", box, "workspace");

  before(async () => {
    remote = await startGitHttpServer({ token: TOKEN });
    remoteHead = await remote.importRepo("big", repositoryFiles());
    dataDir = mkdtempSync(join(tmpdir(), "outpost-git-kill-"));
    await start();
  });
  after(async () => {
    // A test that failed between a kill and its restart still removes its sandboxes.
    if (!serve && dataDir) await start().catch(() => {});
    if (serve) for (const id of boxes) await deleteAndWait(server, id).catch(() => {});
    if (serve) {
      serve.child.kill("SIGTERM");
      // A graceful stop that does not come within a minute is not this test's subject: it ends.
      const stopped = await Promise.race([serve.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, 60_000, false).unref())]);
      if (!stopped) serve.child.kill("SIGKILL");
    }
    await remote?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * A project on the big repository; its sandbox is created and the control plane killed as
   * soon as the repository stage reports a message `killAt` accepts; then restarted.
   */
  async function cloneKilled(project: string, killAt: (message: string) => boolean): Promise<{ id: string; killedAt: string }> {
    const created = await api(server, "POST", "/api/v1/projects", { body: { name: project, repoUrl: remote.url("big") } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const set = await api(server, "POST", `/api/v1/projects/${project}/secrets`, {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));

    const controller = new AbortController();
    const isKillPoint = (e: SseEvent) =>
      e.event === "sandbox.stage" && e.data.data.stage === "repository" && e.data.data.state === "running" && killAt(e.data.data.message ?? "");
    const watching = collectSse(`${server.url}/api/v1/events?follow=true&project=${project}`, {
      token: server.token,
      signal: controller.signal,
      until: (events) => events.some(isKillPoint) || events.some((e) => e.event === "sandbox.phase" && e.data.data.phase !== "provisioning"),
    });
    const box = await api(server, "POST", `/api/v1/projects/${project}/sandboxes`);
    assert.equal(box.status, 201, JSON.stringify(box.body));
    const id = box.body.id as string;
    boxes.push(id);
    const events = await watching;
    const point = events.find(isKillPoint);
    assert.ok(point, `the clone never reached the kill point: ${JSON.stringify(events.map((e) => [e.event, e.data.data]))}`);
    await kill();

    // Cut short: the workspace has a repository whose branch has no commit yet.
    assert.equal((await hostGit(workspace(id), ["rev-parse", "-q", "--verify", "HEAD"])).code !== 0, true, "the clone was not finished at the kill");

    await start();
    return { id, killedAt: point.data.data.message };
  }

  async function assertCloned(project: string, id: string): Promise<void> {
    const ready = await waitForPhase(server, id, ["running", "failed"], CLONE_TIMEOUT_MS);
    assert.equal(ready.phase, "running", JSON.stringify({ error: ready.error, stages: ready.stages }));
    const stage = ready.stages.find((st: { name: string }) => st.name === "repository");
    assert.match(stage?.message ?? "", /^cloned main at /, JSON.stringify(ready.stages));

    const listed = await api(server, "GET", `/api/v1/sandboxes?project=${project}`);
    assert.deepEqual(
      listed.body.items.map((b: { id: string; phase: string }) => [b.id, b.phase]),
      [[id, "running"]],
      "one sandbox, not stuck",
    );

    assert.equal(await sh(id, "git status --porcelain --untracked-files=all"), "", "the working tree is exactly HEAD's");
    const fsck = await exec(server, id, ["git", "fsck", "--full", "--no-progress"]);
    assert.equal(fsck.exitCode, 0, String(fsck.stderr));
    assert.equal(await sh(id, "git rev-parse HEAD"), remoteHead);
    assert.equal(await sh(id, "git symbolic-ref HEAD"), "refs/heads/main");
    assert.equal(await sh(id, "git rev-parse origin/main"), remoteHead);
    assert.equal(await sh(id, "git ls-files | wc -l"), String(FILES));
    assert.equal(await sh(id, "find . -path ./.git -prune -o -type f -print | wc -l"), String(FILES), "every file is in the working tree");
    assert.equal(await sh(id, "cat d7/f4207.txt | head -1"), "file 4207");
  }

  let cloned = "";

  test("killed while the repository stage fetches: the restart finishes the clone", async () => {
    // A progress line of git's own (not the stage's "fetching"): objects are on their way.
    const { id, killedAt } = await cloneKilled("fetch", (message) => message !== "" && message !== "fetching" && !message.startsWith("checking out"));
    assert.ok(!/^cloned /.test(killedAt));
    await assertCloned("fetch", id);
    cloned = id;
  });

  test("killed while the repository stage checks the branch out: the restart finishes the clone", async () => {
    const { id } = await cloneKilled("checkout", (message) => message.startsWith("checking out"));
    await assertCloned("checkout", id);
    await deleteAndWait(server, id);
  });

  /** The checkpoints, and the host repository keeping them, after a kill: all usable. */
  async function assertCheckpointsUsable(id: string): Promise<string[]> {
    const listed = await api(server, "GET", `/api/v1/sandboxes/${id}/git/checkpoints`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    for (const checkpoint of listed.body.items) {
      const diff = await api(server, "GET", `/api/v1/sandboxes/${id}/git/checkpoints/${checkpoint.id}/diff`);
      assert.equal(diff.status, 200, `${checkpoint.id}: ${JSON.stringify(diff.body).slice(0, 2000)}`);
    }
    const fsck = await run("git", ["--git-dir", join(dataDir, "checkpoints", `${id}.git`), "fsck", "--full", "--strict", "--no-progress"], {
      env: { PATH: process.env.PATH, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
    }).catch((error: { stderr?: string; message: string }) => assert.fail(`host checkpoint repository: ${error.stderr ?? error.message}`));
    assert.doesNotMatch(fsck.stderr, /error|missing|broken/i);
    return listed.body.items.map((c: { id: string }) => c.id);
  }

  /**
   * Sends POST …/git/checkpoints and kills the control plane once `underWay` sees the
   * checkpoint being taken (or, failing that, once the answer came: then nothing was cut).
   */
  async function checkpointKilled(id: string, underWay: () => boolean): Promise<boolean> {
    const url = new URL(`${server.url}/api/v1/sandboxes/${id}/git/checkpoints`);
    let answered = false;
    const req = request(url, { method: "POST", headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" } });
    req.on("response", (res) => {
      answered = true;
      res.resume();
    });
    req.on("error", () => {});
    req.end("{}");
    // Watching for the step (a condition on files, not a fixed wait).
    while (!answered && !underWay()) await new Promise((resolve) => setTimeout(resolve, 2));
    const cut = !answered;
    await kill();
    return cut;
  }

  test("killed while a checkpoint is taken (twice, at different steps): every listed checkpoint restores, and new ones work", async () => {
    const id = cloned;
    assert.ok(id, "needs the sandbox of the first test");
    const first = await api(server, "POST", `/api/v1/sandboxes/${id}/git/checkpoints`, { body: {} });
    assert.equal(first.status, 201, JSON.stringify(first.body));

    const gitDir = join(workspace(id), ".git");
    const hostStore = join(dataDir, "checkpoints");
    const steps: [string, () => boolean][] = [
      // The snapshot: its copy of the index is being written inside the sandbox.
      ["snapshot", () => readdirSync(gitDir).some((name) => name.startsWith("index.outpost-"))],
      // The copy: the bundle is arriving on the host (or being checked there).
      ["copy to the host", () => existsSync(hostStore) && readdirSync(hostStore).some((name) => name.startsWith(".incoming-"))],
    ];
    const cut: string[] = [];
    for (const [i, [step, underWay]] of steps.entries()) {
      // Lots of new objects, so the checkpoint takes a while: every file of 50 folders changes.
      await sh(id, `for d in $(seq ${i * 50} ${i * 50 + 49}); do for f in d$d/*; do echo "change ${i}" >> "$f"; done; done; echo new > untracked-${i}.txt`);
      if (await checkpointKilled(id, underWay)) cut.push(step);
      await start();
      await waitForPhase(server, id, ["running"]);
      await assertCheckpointsUsable(id);
    }

    // A new checkpoint after the kills is taken and kept, and the one from before restores exactly.
    const after = await api(server, "POST", `/api/v1/sandboxes/${id}/git/checkpoints`, { body: {} });
    assert.equal(after.status, 201, JSON.stringify(after.body));
    const ids = await assertCheckpointsUsable(id);
    assert.ok(ids.includes(first.body.id) && ids.includes(after.body.id), JSON.stringify(ids));
    const restored = await api(server, "POST", `/api/v1/sandboxes/${id}/git/checkpoints/${first.body.id}/restore`, { body: {} });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(await sh(id, "git status --porcelain --untracked-files=all"), "");
    assert.equal(await sh(id, "git rev-parse HEAD"), remoteHead);
    // Every step was really cut mid-way (else the test proved nothing about it).
    assert.deepEqual(cut, ["snapshot", "copy to the host"]);
  });
});
