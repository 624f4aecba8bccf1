// CheckpointService against a plain folder (test/helpers/host-git.ts stands in for the
// sandbox) and a real PostgreSQL: a turn that deletes, edits, adds, commits and even drops
// the checkpoint ref and collects the garbage is rolled back exactly, and the rollback undone.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, beforeEach, describe, test } from "node:test";
import pg from "pg";
import { OutpostError } from "../../src/domain/errors.ts";
import { CheckpointService, type CheckpointView } from "../../src/services/git/checkpoints.ts";
import type { GitRunner } from "../../src/services/git/git-runner.ts";
import { migrate } from "../../src/store/migrate.ts";
import { hostGitRunner } from "../helpers/host-git.ts";
import { freshMachineDatabase, tempDir } from "../helpers/server.ts";

const AGENT = {
  GIT_AUTHOR_NAME: "Outpost Agent",
  GIT_AUTHOR_EMAIL: "agent@outpost.local",
  GIT_COMMITTER_NAME: "Outpost Agent",
  GIT_COMMITTER_EMAIL: "agent@outpost.local",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

let database: Awaited<ReturnType<typeof freshMachineDatabase>>;
let pool: pg.Pool;
let root: string;
let service: CheckpointService;
let counter = 0;

before(async () => {
  database = await freshMachineDatabase();
  pool = new pg.Pool({ connectionString: database.url, max: 4 });
  pool.on("error", () => {});
  await migrate(pool);
  await pool.query("insert into users (id, name) values ('usr_c', 'c')");
  await pool.query("insert into projects (id, owner_id, name) values ('prj_c', 'usr_c', 'c')");
  root = tempDir("outpost-chk-");
  service = new CheckpointService({ pool, dataDir: join(root, "data") });
});

after(async () => {
  await pool?.end();
  await database?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Fixture {
  sandbox: { id: string; projectId: string };
  workspace: string;
  runner: GitRunner;
  /** Host git in the workspace, as the agent would run it. */
  git(...args: string[]): string;
}

async function fixture(init = true): Promise<Fixture> {
  counter += 1;
  const id = `sbx_chk${counter}aaaaaa`;
  await pool.query(
    `insert into sandboxes (id, project_id, owner_id, name, driver, desired, phase, stages) values ($1, 'prj_c', 'usr_c', $2, 'local', 'running', 'running', '[]')`,
    [id, `chk-${counter}`],
  );
  const workspace = join(root, `ws-${counter}`);
  const home = join(root, `home-${counter}`);
  mkdirSync(workspace, { recursive: true });
  mkdirSync(home, { recursive: true });
  const env = { ...process.env, ...AGENT, HOME: home, GIT_CONFIG_NOSYSTEM: "1" };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: workspace, env, encoding: "utf8" });
  if (init) git("init", "-q", "-b", "main");
  return { sandbox: { id, projectId: "prj_c" }, workspace, runner: hostGitRunner(workspace, home, AGENT), git };
}

/** Every file and symlink under the workspace but .git: type, mode and a hash of the content (or the link's target). */
function files(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (rel === ".git") continue;
    const full = join(dir, rel);
    const stat = lstatSync(full);
    if (stat.isDirectory()) Object.assign(out, files(dir, rel));
    else if (stat.isSymbolicLink()) out[rel] = `link -> ${readlinkSync(full)}`;
    else out[rel] = `file ${(stat.mode & 0o777).toString(8)} ${createHash("sha256").update(readFileSync(full)).digest("hex")}`;
  }
  return out;
}

/** A repository with committed, staged, modified, untracked and ignored files, a symlink and an executable. */
function populate(f: Fixture): void {
  const w = f.workspace;
  writeFileSync(join(w, ".gitignore"), "*.log\nbuild/\n");
  writeFileSync(join(w, "README.md"), "# demo\n");
  mkdirSync(join(w, "src"));
  writeFileSync(join(w, "src/app.js"), "console.log('v1');\n");
  writeFileSync(join(w, "run.sh"), "#!/bin/sh\necho run\n");
  chmodSync(join(w, "run.sh"), 0o755);
  symlinkSync("src/app.js", join(w, "app-link"));
  writeFileSync(join(w, "notes"), "a file that a turn turns into a folder\n");
  f.git("add", "-A");
  f.git("commit", "-q", "-m", "first");
  writeFileSync(join(w, "src/app.js"), "console.log('v2, staged');\n");
  f.git("add", "src/app.js");
  writeFileSync(join(w, "src/app.js"), "console.log('v3, modified after staging');\n");
  writeFileSync(join(w, "untracked.txt"), "not added yet\n");
  mkdirSync(join(w, "new-dir/deeper"), { recursive: true });
  writeFileSync(join(w, "new-dir/deeper/data.bin"), Buffer.from([0, 1, 2, 255, 254]));
  writeFileSync(join(w, "debug.log"), "ignored\n");
  mkdirSync(join(w, "build"));
  writeFileSync(join(w, "build/out.js"), "ignored build output\n");
}

/** What an agent's turn might do, including hiding its tracks from the sandbox's git. */
function turn(f: Fixture, checkpoint: CheckpointView): void {
  const w = f.workspace;
  rmSync(join(w, "README.md"));
  rmSync(join(w, "untracked.txt"));
  rmSync(join(w, "new-dir"), { recursive: true });
  writeFileSync(join(w, "src/app.js"), "console.log('the agent was here');\n");
  chmodSync(join(w, "run.sh"), 0o644);
  rmSync(join(w, "app-link"));
  symlinkSync("README.md", join(w, "app-link"));
  rmSync(join(w, "notes"));
  mkdirSync(join(w, "notes"));
  writeFileSync(join(w, "notes/inside.txt"), "a folder now\n");
  writeFileSync(join(w, "added.txt"), "new\n");
  writeFileSync(join(w, "debug.log"), "ignored, and changed by the turn\n");
  f.git("add", "-A");
  f.git("commit", "-q", "-m", "the agent's commit");
  writeFileSync(join(w, "after-commit.txt"), "untracked after the commit\n");
  f.git("update-ref", "-d", `refs/outpost/checkpoints/${checkpoint.id}`);
  f.git("reflog", "expire", "--expire=now", "--all");
  f.git("gc", "-q", "--prune=now");
}

const status = (f: Fixture) => f.git("status", "--porcelain=v2", "--branch", "--untracked-files=all");
const hashOf = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("checkpoints on a host folder", () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await fixture();
  });

  test("taking one touches nothing: not the index, HEAD, refs, or files", async () => {
    populate(f);
    const before = { files: files(f.workspace), index: hashOf(join(f.workspace, ".git/index")), status: status(f), head: f.git("rev-parse", "HEAD") };
    const refsBefore = f.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags");
    const chk = await service.create(f.sandbox, f.runner, { reason: "manual" });
    assert.match(chk.id, /^chk_/);
    assert.equal(chk.branch, "main");
    assert.equal(chk.headSha, before.head.trim());
    assert.deepEqual(files(f.workspace), before.files);
    assert.equal(hashOf(join(f.workspace, ".git/index")), before.index);
    assert.equal(status(f), before.status);
    assert.equal(f.git("for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags"), refsBefore);
    // The ref is kept inside, and the host has the commit.
    assert.equal(f.git("rev-parse", `refs/outpost/checkpoints/${chk.id}`).trim(), chk.commit);
    const host = service.hostRepository(f.sandbox.id);
    assert.equal(execFileSync("git", ["--git-dir", host, "rev-parse", `refs/outpost/checkpoints/${chk.id}`], { encoding: "utf8" }).trim(), chk.commit);
    execFileSync("git", ["--git-dir", host, "fsck", "--strict", "--no-dangling"]);
    // The checkpoint's tree has the untracked files and not the ignored ones.
    const listed = f.git("ls-tree", "-r", "--name-only", chk.commit).split("\n");
    assert.ok(listed.includes("untracked.txt") && listed.includes("new-dir/deeper/data.bin"));
    assert.ok(!listed.includes("debug.log") && !listed.includes("build/out.js"));
    assert.equal(f.git("show", `${chk.commit}:src/app.js`), "console.log('v3, modified after staging');\n");
    assert.equal(f.git("show", `${chk.commit}^2:src/app.js`), "console.log('v2, staged');\n");
  });

  test("a turn is rolled back exactly, and the rollback undone, after the ref was deleted and gc ran", async () => {
    populate(f);
    const chk = await service.create(f.sandbox, f.runner, { reason: "turn" });
    const atCheckpoint = { files: files(f.workspace), status: status(f), head: f.git("rev-parse", "HEAD"), staged: f.git("diff", "--cached") };
    turn(f, chk);
    assert.throws(() => f.git("cat-file", "-e", chk.commit), "the turn removed the checkpoint from the sandbox's git");
    const afterTurn = { files: files(f.workspace), status: status(f), head: f.git("rev-parse", "HEAD") };
    assert.notDeepEqual(afterTurn.files, atCheckpoint.files);

    const { restored, undo } = await service.restore(f.sandbox, f.runner, chk.id);
    assert.equal(restored.id, chk.id);
    assert.equal(undo.reason, "before-restore");
    const now = files(f.workspace);
    // The ignored file keeps what the turn wrote: restores leave ignored files alone.
    assert.equal(now["debug.log"], afterTurn.files["debug.log"]);
    assert.equal(now["build/out.js"], atCheckpoint.files["build/out.js"]);
    assert.deepEqual({ ...now, "debug.log": "" }, { ...atCheckpoint.files, "debug.log": "" });
    assert.equal(f.git("rev-parse", "HEAD"), atCheckpoint.head);
    assert.equal(f.git("symbolic-ref", "HEAD").trim(), "refs/heads/main");
    assert.equal(f.git("diff", "--cached"), atCheckpoint.staged, "the index (staged changes) is back");
    assert.equal(status(f), atCheckpoint.status);

    const again = await service.restore(f.sandbox, f.runner, undo.id);
    assert.equal(again.restored.id, undo.id);
    assert.deepEqual(files(f.workspace), afterTurn.files);
    assert.equal(f.git("rev-parse", "HEAD"), afterTurn.head);
    assert.equal(status(f), afterTurn.status);

    const list = await service.list(f.sandbox.id);
    assert.deepEqual(
      list.map((c) => c.reason),
      ["before-restore", "before-restore", "turn"],
    );
    assert.equal(list[2]?.id, chk.id);
  });

  test("a branch switched since, and a detached HEAD, are put back", async () => {
    populate(f);
    const onMain = await service.create(f.sandbox, f.runner, { reason: "turn" });
    f.git("add", "-A");
    f.git("commit", "-q", "-m", "everything");
    f.git("switch", "-q", "-c", "outpost/other");
    writeFileSync(join(f.workspace, "other.txt"), "on the other branch\n");
    f.git("add", "-A");
    f.git("commit", "-q", "-m", "other");
    await service.restore(f.sandbox, f.runner, onMain.id);
    assert.equal(f.git("symbolic-ref", "HEAD").trim(), "refs/heads/main");
    assert.equal(f.git("rev-parse", "HEAD").trim(), onMain.headSha);
    assert.ok(f.git("rev-parse", "refs/heads/outpost/other"), "the other branch is still there");

    f.git("add", "-A");
    f.git("commit", "-q", "-m", "work in progress");
    f.git("switch", "-q", "--detach", "HEAD");
    const detached = await service.create(f.sandbox, f.runner, { reason: "manual" });
    assert.equal(detached.branch, null);
    f.git("switch", "-q", "outpost/other");
    await service.restore(f.sandbox, f.runner, detached.id);
    assert.throws(() => f.git("symbolic-ref", "-q", "HEAD"));
    assert.equal(f.git("rev-parse", "HEAD").trim(), detached.headSha);
  });

  test("a repository without a commit yet", async () => {
    writeFileSync(join(f.workspace, "first.txt"), "before any commit\n");
    const chk = await service.create(f.sandbox, f.runner, { reason: "turn" });
    assert.equal(chk.headSha, null);
    writeFileSync(join(f.workspace, "second.txt"), "the turn\n");
    f.git("add", "-A");
    f.git("commit", "-q", "-m", "first commit");
    await service.restore(f.sandbox, f.runner, chk.id);
    assert.deepEqual(Object.keys(files(f.workspace)), ["first.txt"]);
    assert.throws(() => f.git("rev-parse", "-q", "--verify", "HEAD"), "main is unborn again");
    assert.equal(f.git("status", "--porcelain"), "?? first.txt\n");
  });

  test("diff against a checkpoint shows the turn's changes, untracked files included", async () => {
    populate(f);
    const chk = await service.create(f.sandbox, f.runner, { reason: "turn" });
    writeFileSync(join(f.workspace, "src/app.js"), "console.log('changed');\n");
    writeFileSync(join(f.workspace, "brand-new.txt"), "hello\n");
    rmSync(join(f.workspace, "untracked.txt"));
    const diff = await service.diff(f.sandbox, f.runner, chk.id);
    assert.match(diff.unified, /\+console\.log\('changed'\);/);
    const byPath = Object.fromEntries(diff.files.map((file) => [file.path, file.status]));
    assert.deepEqual(byPath, { "brand-new.txt": "added", "src/app.js": "modified", "untracked.txt": "deleted" });
    // Works after the sandbox lost the objects, too.
    f.git("update-ref", "-d", `refs/outpost/checkpoints/${chk.id}`);
    f.git("gc", "-q", "--prune=now");
    assert.equal((await service.diff(f.sandbox, f.runner, chk.id)).unified, diff.unified);
  });

  test("the sandbox keeps the newest 20 refs, the host all of them; an old one still restores", async () => {
    writeFileSync(join(f.workspace, "counter.txt"), "0\n");
    const taken: CheckpointView[] = [];
    for (let i = 0; i < 22; i++) {
      writeFileSync(join(f.workspace, "counter.txt"), `${i}\n`);
      taken.push(await service.create(f.sandbox, f.runner, { reason: "turn" }));
    }
    const inside = f.git("for-each-ref", "--format=%(refname)", "refs/outpost/checkpoints/").trim().split("\n");
    assert.deepEqual(
      inside.sort(),
      taken
        .slice(2)
        .map((c) => `refs/outpost/checkpoints/${c.id}`)
        .sort(),
    );
    const host = execFileSync("git", ["--git-dir", service.hostRepository(f.sandbox.id), "for-each-ref", "refs/outpost/checkpoints/"], { encoding: "utf8" });
    assert.equal(host.trim().split("\n").length, 22);
    f.git("gc", "-q", "--prune=now");
    await service.restore(f.sandbox, f.runner, taken[0]!.id);
    assert.equal(readFileSync(join(f.workspace, "counter.txt"), "utf8"), "0\n");
  });

  test("checkpoints are never pushed", async () => {
    populate(f);
    const remote = join(root, `remote-${counter}.git`);
    execFileSync("git", ["init", "-q", "--bare", remote]);
    f.git("remote", "add", "origin", remote);
    await service.create(f.sandbox, f.runner, { reason: "turn" });
    f.git("push", "-q", "-u", "origin", "main");
    f.git("push", "-q");
    f.git("push", "-q", "--all");
    f.git("push", "-q", "--tags");
    const remoteRefs = execFileSync("git", ["--git-dir", remote, "for-each-ref", "--format=%(refname)"], { encoding: "utf8" });
    assert.equal(remoteRefs, "refs/heads/main\n");
  });

  test("a bundle whose objects fail git's checks is refused, and no row is written", async () => {
    populate(f);
    await service.create(f.sandbox, f.runner, { reason: "turn" });
    const count = (await service.list(f.sandbox.id)).length;
    // The sandbox answers with a commit whose author line is broken.
    const tree = f.git("write-tree").trim();
    const bad = execFileSync("git", ["hash-object", "-t", "commit", "-w", "--literally", "--stdin"], {
      cwd: f.workspace,
      input: `tree ${tree}\nauthor x <a@b> notadate\ncommitter x <a@b> 1 +0000\n\nbad\n`,
      encoding: "utf8",
    }).trim();
    // A bundle that names the checkpoint's commit as asked, with a broken object in its pack.
    const tampering: GitRunner = {
      ...f.runner,
      async readFile(path) {
        const ref = `refs/outpost/checkpoints/${path
          .split("/")
          .pop()!
          .replace(/\.bundle$/, "")}`;
        const commit = f.git("rev-parse", ref).trim();
        const objects = `${f
          .git("rev-list", "--objects", ref)
          .split("\n")
          .filter(Boolean)
          .map((line) => line.split(" ")[0])
          .join("\n")}\n${bad}\n`;
        const pack = execFileSync("git", ["pack-objects", "-q", "--stdout"], { cwd: f.workspace, input: objects });
        return Readable.from([Buffer.from(`# v2 git bundle\n${commit} ${ref}\n\n`), pack]);
      },
    };
    await assert.rejects(
      service.create(f.sandbox, tampering, { reason: "turn" }),
      (error: unknown) => error instanceof OutpostError && error.code === "CHECKPOINT_REJECTED",
    );
    assert.equal((await service.list(f.sandbox.id)).length, count);
  });

  test("unknown checkpoints and folders that are no repository", async () => {
    await assert.rejects(
      service.restore(f.sandbox, f.runner, "chk_doesnotexist00"),
      (error: unknown) => (error as OutpostError).code === "CHECKPOINT_NOT_FOUND",
    );
    const plain = await fixture(false);
    await assert.rejects(
      service.create(plain.sandbox, plain.runner, { reason: "turn" }),
      (error: unknown) => (error as OutpostError).code === "NOT_A_GIT_REPOSITORY",
    );
  });
});
