// `outpost git …`, `outpost pr` and `outpost project deploy-key` as a user runs them: the
// built CLI against a real control plane whose real sandbox has the project's repository
// cloned from a local smart-HTTP git server (the token put in by the egress proxy). Pull
// requests go to the stand-in GitHub. Run `npm run build` first (the CLI is dist/outpost.js).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type GitHttpServer, HOST_MACHINE, startGitHttpServer } from "../helpers/git-http-server.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { runCli, STACK_FRAME } from "./harness.ts";

const TOKEN = "ghp_CliGitToken0123456789abcdefghijk";

describe("outpost git, pr and project deploy-key (real sandbox, smart-HTTP remote, stand-in GitHub)", () => {
  let s: TestServer;
  let remote: GitHttpServer;
  let github: GitHubStub;
  let remoteDir: string;
  let box: { id: string; name: string };
  let env: Record<string, string>;

  const outpost = (...args: string[]) => runCli(args, env, 120_000);
  /** A command that must succeed: its stdout. */
  const ok = async (...args: string[]) => {
    const result = await outpost(...args);
    assert.equal(result.code, 0, `outpost ${args.join(" ")}\nstdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    return result.stdout;
  };
  const sh = async (command: string) => {
    const result = await exec(s, box.id, ["sh", "-c", command]);
    assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
    return String(result.stdout).trim();
  };
  /** The sha a branch has on the remote, or undefined. */
  const remoteSha = (branch: string): string | undefined => {
    try {
      return execFileSync("git", ["--git-dir", remoteDir, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { encoding: "utf8" }).trim();
    } catch {
      return undefined;
    }
  };

  before(async () => {
    // GitHub repositories are owner/name: the served repository lives at <root>/acme/shop.git.
    remote = await startGitHttpServer({ token: TOKEN });
    await remote.createRepo("shop", { "README.md": "# shop\n", "app.js": "export const app = 1;\n" });
    remoteDir = join(remote.root, "acme", "shop.git");
    mkdirSync(dirname(remoteDir));
    renameSync(remote.gitDir("shop"), remoteDir);
    github = await startGitHubStub({ token: TOKEN, branchSha: (owner, repo, branch) => (owner === "acme" && repo === "shop" ? remoteSha(branch) : undefined) });
    s = await startTestServer("embedded", { githubApiUrl: github.url });
    env = { OUTPOST_URL: s.url, OUTPOST_TOKEN: s.token };
    const repoUrl = `http://${HOST_MACHINE}:${remote.port}/acme/shop.git`;
    const created = await api(s, "POST", "/api/v1/projects", { body: { name: "shop", repoUrl, defaultBranch: "main" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // The token reaches the repository's host by itself (the proxy), and GitHub's API from the host.
    const set = await api(s, "POST", "/api/v1/projects/shop/secrets", {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    box = await runningSandbox(s, "shop");
    assert.equal(await sh("cat README.md"), "# shop", "the repository stage cloned it");
  });
  after(async () => {
    await s?.close();
    await github?.stop();
    await remote?.stop();
  });

  test("status: the branch against its upstream, then XY path for a changed and an untracked file", async () => {
    await sh("echo '# shop, changed' > README.md && echo 'remember' > notes.txt");
    const lines = (await ok("git", "status", box.name)).trimEnd().split("\n");
    assert.deepEqual(lines, ["## main...origin/main", " M README.md", "?? notes.txt"]);
    const json = JSON.parse(await ok("git", "status", box.id, "--json"));
    assert.equal(json.branch, "main");
    assert.equal(json.files.length, 2);
  });

  test("diff prints git's unified diff exactly; --stat the lines per file; --staged is empty", async () => {
    const text = await ok("git", "diff", box.name);
    const fromApi = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/diff?mode=worktree`);
    assert.equal(text, fromApi.body.unified, "byte for byte what the API gave");
    assert.match(text, /^diff --git a\/README\.md b\/README\.md$/m);
    assert.match(text, /^-# shop$/m);
    assert.match(text, /^\+# shop, changed$/m);
    assert.match(text, /^\+\+\+ b\/notes\.txt$/m);
    const only = await ok("git", "diff", box.name, "--path", "notes.txt");
    assert.doesNotMatch(only, /README/);
    assert.match(only, /^\+remember$/m);
    const stat = (await ok("git", "diff", box.name, "--stat")).trimEnd().split("\n");
    assert.deepEqual(stat, ["+1 -1  README.md", "+1 -0  notes.txt", "2 files changed, 2 insertions(+), 1 deletion(-)"]);
    assert.equal(await ok("git", "diff", box.name, "--staged"), "");
  });

  test("commit -m with a path commits only that path and prints the short sha and subject", async () => {
    const out = await ok("git", "commit", box.name, "-m", "Add notes\n\nFor later.", "notes.txt");
    const head = await sh("git rev-parse HEAD");
    assert.equal(out, `[main ${head.slice(0, 7)}] Add notes\n`);
    assert.equal(await sh("git show --name-only --format= HEAD"), "notes.txt");
    assert.equal((await ok("git", "status", box.name)).trimEnd(), "## main...origin/main [ahead 1]\n M README.md");
    await ok("git", "commit", box.name, "-m", "Change the title");
  });

  test("push lands on the remote; log shows short sha, date, author and subject", async () => {
    const head = await sh("git rev-parse HEAD");
    const push = await outpost("git", "push", box.name);
    assert.equal(push.code, 0, push.stderr);
    assert.equal(push.stdout, "pushed main\n");
    // What the remote holds now (read with host git: the test server's log() takes flat names only).
    const remoteLog = execFileSync("git", ["--git-dir", remoteDir, "log", "-2", "--format=%H %an <%ae> %s", "main"], { encoding: "utf8" });
    const [top, second] = remoteLog.trimEnd().split("\n");
    assert.equal(top, `${head} Outpost Agent <agent@outpost.local> Change the title`);
    assert.match(second ?? "", /^[0-9a-f]{40} Outpost Agent <agent@outpost\.local> Add notes$/);
    assert.equal(await ok("git", "fetch", box.name), "fetched main\n");
    assert.equal(await ok("git", "pull", box.name), "pulled main\n");

    const log = (await ok("git", "log", box.name, "--limit", "2")).trimEnd().split("\n");
    assert.equal(log.length, 3, "a header and two commits");
    assert.match(log[1] ?? "", new RegExp(`^${head.slice(0, 7)}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  Outpost Agent\\s+Change the title$`));
    assert.match(log[2] ?? "", /Add notes$/);
    const onlyNotes = await ok("git", "log", box.name, "--path", "notes.txt");
    assert.doesNotMatch(onlyNotes, /Change the title/);
  });

  test("branch creates and switches, branches marks the current one, switch goes back", async () => {
    assert.equal(await ok("git", "branch", box.name, "feature/cli"), "created branch feature/cli and switched to it\n");
    assert.equal(await ok("git", "branch", box.name, "spare", "--from", "main", "--no-switch"), "created branch spare\n");
    const rows = (await ok("git", "branches", box.name)).trimEnd().split("\n");
    assert.match(rows[0] ?? "", /^BRANCH\s+SHA\s+UPSTREAM\s+CONVERSATION\s+WORKTREE$/);
    assert.match(rows[1] ?? "", /^\* feature\/cli\s+[0-9a-f]{7}\s/);
    assert.match(rows.find((r) => r.includes(" main ")) ?? "", /^ {2}main\s+[0-9a-f]{7}\s+origin\/main/);
    assert.ok(
      rows.some((r) => /^ {2}spare\s/.test(r)),
      rows.join("\n"),
    );
    assert.equal(await ok("git", "switch", box.name, "main"), "switched to main\n");
    assert.equal(await sh("git rev-parse --abbrev-ref HEAD"), "main");
    assert.equal(await ok("git", "switch", box.name, "feature/cli"), "switched to feature/cli\n");
  });

  test("checkpoint, restore, and the restore undone: the file's content back each time", async () => {
    await sh("echo first > draft.txt");
    const taken = await ok("git", "checkpoint", box.name);
    const id = /^(chk_[a-z0-9]+) \(feature\/cli at [0-9a-f]{7}\)$/m.exec(taken)?.[1];
    assert.ok(id, taken);
    await sh("echo second > draft.txt && rm app.js");
    const list = await ok("git", "checkpoints", box.name);
    assert.match(list, new RegExp(`^${id}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\s+manual\\s+feature/cli\\s`, "m"));
    const changed = await ok("git", "checkpoint-diff", box.name, id);
    assert.match(changed, /^-first$/m);
    assert.match(changed, /^\+second$/m);

    const restored = await ok("git", "restore", box.name, id);
    const undo = new RegExp(`^restored ${id}\\nundo with: outpost git restore ${box.name} (chk_[a-z0-9]+)\\n$`).exec(restored)?.[1];
    assert.ok(undo, restored);
    assert.equal(await sh("cat draft.txt"), "first");
    assert.equal(await sh("cat app.js"), "export const app = 1;");
    await ok("git", "restore", box.name, undo);
    assert.equal(await sh("cat draft.txt"), "second");
    assert.equal(await sh("test -e app.js || echo gone"), "gone");
    await sh("git checkout -- app.js && rm draft.txt");
  });

  test("outpost pr pushes the branch and prints the pull request's URL from the stand-in GitHub", async () => {
    await sh("echo 'export const app = 2;' > app.js");
    await ok("git", "commit", box.name, "-m", "Bump the app");
    const out = await ok("pr", box.name, "--title", "Bump the app");
    assert.equal(out, "https://github.example/acme/shop/pull/1\n");
    const post = github.requests.find((r) => r.method === "POST");
    assert.equal(post?.path, "/repos/acme/shop/pulls");
    assert.equal(post?.headers.authorization, `Bearer ${TOKEN}`);
    assert.deepEqual((({ head, base, title }) => ({ head, base, title }))(post?.body as { head: string; base: string; title: string }), {
      head: "feature/cli",
      base: "main",
      title: "Bump the app",
    });
    assert.equal(remoteSha("feature/cli"), await sh("git rev-parse HEAD"));
  });

  test("outpost project deploy-key prints an ssh-ed25519 public key", async () => {
    const out = await ok("project", "deploy-key", "shop");
    assert.match(out, /^public key:\s+ssh-ed25519 AAAA[0-9A-Za-z+/]+=*( \S+)?$/m);
    assert.match(out, /^fingerprint:\s+SHA256:/m);
  });

  test("bad input: a branch named --force gets the API's VALIDATION_FAILED; an unknown flag is a usage error", async () => {
    const force = await outpost("git", "branch", box.name, "--", "--force");
    assert.equal(force.code, 1, force.stdout);
    assert.match(force.stderr, /^outpost: Invalid request: .*name.*must not start with '-' \(VALIDATION_FAILED[,)]/m);
    assert.doesNotMatch(force.stderr, STACK_FRAME);
    assert.equal(await sh("git for-each-ref --format='%(refname:short)' refs/heads | grep -c force || true"), "0");

    const unknown = await outpost("git", "status", box.name, "--force");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^outpost: Unknown option '--force'/m);
    assert.match(unknown.stderr, /outpost git status <sandbox>/, "the usage follows");
    const misplaced = await outpost("git", "status", box.name, "--stat");
    assert.equal(misplaced.code, 2);
    assert.match(misplaced.stderr, /--stat does not go with outpost git status/);
    const noMessage = await outpost("git", "commit", box.name);
    assert.equal(noMessage.code, 2);
    assert.match(noMessage.stderr, /needs -m MESSAGE/);
  });
});
