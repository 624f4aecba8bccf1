// The repository in the sandbox, end to end through the API with real parts: a project whose
// repoUrl is served by a local smart-HTTP git server that wants a token, reached from a real
// sandbox through its egress path (the proxy puts the token in). The sandbox starts with the
// repository cloned by the `repository` stage; the git API shows status and diffs, commits by
// the project's identity with the person as co-author, pushes back; a start after a stop
// fetches and keeps uncommitted work; and the token is nowhere inside.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { exec, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer, tempDir } from "../helpers/server.ts";

const TOKEN = "ghp_RepositoryStageToken0123456789abcd";

/** Someone else's push: a commit made on the host straight into the served repository; its sha. */
function pushFromHost(bare: string, file: string, content: string, message: string): string {
  const dir = tempDir("outpost-git-other-");
  const env = {
    ...process.env,
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "Other",
    GIT_AUTHOR_EMAIL: "o@example.com",
    GIT_COMMITTER_NAME: "Other",
    GIT_COMMITTER_EMAIL: "o@example.com",
  };
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env, encoding: "utf8" }).trim();
  git("clone", "--quiet", bare, ".");
  writeFileSync(join(dir, file), content);
  git("add", file);
  git("commit", "--quiet", "-m", message);
  git("push", "--quiet", "origin", "HEAD:main");
  return git("rev-parse", "HEAD");
}

describe("the project's repository in its sandbox (smart-HTTP remote, token added by the proxy)", () => {
  let s: TestServer;
  let remote: GitHttpServer;
  let box: { id: string; name: string };
  const sh = async (command: string) => {
    const result = await exec(s, box.id, ["sh", "-c", command]);
    assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
    return String(result.stdout).trim();
  };

  before(async () => {
    remote = await startGitHttpServer({ token: TOKEN });
    await remote.createRepo("lib", { "lib.txt": "library\n" });
    await remote.createRepo("app", { "README.md": "# app\n", "src/main.js": "console.log('hi');\n" }, { submodule: { path: "vendor/lib", repo: "lib" } });
    s = await startTestServer("embedded");
    const created = await api(s, "POST", "/api/v1/projects", { body: { name: "app", repoUrl: remote.url("app") } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // No inject rule for the git server: the project's token goes to its repository's host by itself.
    const set = await api(s, "POST", "/api/v1/projects/app/secrets", {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    box = await runningSandbox(s, "app");
  });
  after(async () => {
    await s?.close();
    await remote?.stop();
  });

  test("the sandbox starts with the repository cloned (submodule too) on its default branch, through the proxy", async () => {
    const sandbox = (await api(s, "GET", `/api/v1/sandboxes/${box.id}`)).body;
    const stage = sandbox.stages.find((st: { name: string }) => st.name === "repository");
    assert.equal(stage?.state, "done", JSON.stringify(sandbox.stages));
    assert.match(stage.message ?? "", /cloned main/);
    assert.equal(await sh("cat README.md"), "# app");
    assert.equal(await sh("cat vendor/lib/lib.txt"), "library");
    assert.equal(await sh("git rev-parse --abbrev-ref HEAD"), "main");
    assert.ok(
      remote.requests.some((r) => r.authorized),
      "the server saw the token",
    );
    assert.ok(!remote.requests.some((r) => r.hadAuthorization && !r.authorized), "never a wrong token");
    // The remote URL has no credential in it, and git's config holds none.
    assert.equal(await sh("git remote get-url origin"), remote.url("app"));
    assert.doesNotMatch(await sh("git config --list --show-origin; cat .git/config"), new RegExp(TOKEN));
  });

  test("status and diff show a change, a new file and a deletion (untracked files included)", async () => {
    await sh("echo 'console.log(\"hello\");' > src/main.js && echo new > notes.txt && rm README.md");
    const status = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/status`);
    assert.equal(status.status, 200, JSON.stringify(status.body));
    assert.equal(status.body.branch, "main");
    assert.equal(status.body.clean, false);
    const byPath = Object.fromEntries(status.body.files.map((f: { path: string; status: string }) => [f.path, f.status]));
    assert.deepEqual(byPath, { "README.md": "deleted", "src/main.js": "modified", "notes.txt": "untracked" });

    const diff = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/diff?mode=worktree`);
    assert.equal(diff.status, 200, JSON.stringify(diff.body));
    const files = Object.fromEntries(diff.body.files.map((f: { path: string; status: string }) => [f.path, f]));
    assert.equal(files["notes.txt"].status, "added");
    assert.equal(files["README.md"].status, "deleted");
    const main = files["src/main.js"];
    assert.equal(main.additions, 1);
    assert.equal(main.deletions, 1);
    const lines = main.hunks[0].lines;
    assert.deepEqual(
      lines.map((l: { type: string; text: string }) => [l.type, l.text]),
      [
        ["del", "console.log('hi');"],
        ["add", 'console.log("hello");'],
      ],
    );
    assert.match(diff.body.unified, /^diff --git a\/README.md b\/README.md/m);
    // The index is untouched by a worktree diff.
    assert.equal(await sh("git diff --cached --name-only"), "");
  });

  test("a commit is by the project's identity with the person as co-author, and a push lands on the remote", async () => {
    const commit = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/commit`, { body: { message: "Say hello\n\nAnd drop the README." } });
    assert.equal(commit.status, 201, JSON.stringify(commit.body));
    assert.equal(commit.body.branch, "main");
    assert.equal(commit.body.subject, "Say hello");
    const again = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/commit`, { body: { message: "Nothing" } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "NOTHING_TO_COMMIT");

    const push = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/push`, { body: {} });
    assert.equal(push.status, 200, JSON.stringify(push.body));
    const [head] = await remote.log("app", "main");
    assert.equal(head?.sha, commit.body.sha);
    assert.deepEqual(head?.author, { name: "Outpost Agent", email: "agent@outpost.local" });
    assert.match(head?.message ?? "", /^Say hello\n\nAnd drop the README\.\n\nCo-authored-by: admin <admin@users\.outpost\.local>$/);

    const log = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/log?limit=5`);
    assert.equal(log.status, 200);
    assert.equal(log.body.commits[0].sha, commit.body.sha);
    assert.equal(log.body.commits.length, 2);
  });

  test("branches: create, list with the current one, switch; bad names are refused before git runs", async () => {
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/branches`, { body: { name: "feature/x" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.branch, "feature/x");
    const list = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/branches`);
    assert.deepEqual(
      list.body.branches.map((b: { name: string; current: boolean }) => [b.name, b.current]),
      [
        ["feature/x", true],
        ["main", false],
      ],
    );
    assert.equal(list.body.defaultBranch, "main");
    const exists = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/branches`, { body: { name: "main" } });
    assert.equal(exists.body.error?.code, "GIT_BRANCH_EXISTS");
    for (const name of ["-delete", "a..b", "x y", "refs/../x", "a.lock", "@{u}"]) {
      const bad = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/branches`, { body: { name } });
      assert.equal(bad.status, 400, `${name}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.error.code, "VALIDATION_FAILED");
    }
    for (const query of ["mode=refs&from=--output=/tmp/x", "path=../etc/passwd", "path=/etc/passwd", "mode=refs&from=HEAD..main"]) {
      const bad = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/diff?${query}`);
      assert.equal(bad.status, 400, `${query}: ${JSON.stringify(bad.body)}`);
    }
    const missing = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/diff?mode=refs&from=nope`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "GIT_REF_NOT_FOUND");
    const switched = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/switch`, { body: { branch: "main" } });
    assert.equal(switched.status, 200, JSON.stringify(switched.body));
    assert.equal(switched.body.branch, "main");
    assert.deepEqual(
      (await sh("git for-each-ref --format='%(refname)' refs/heads")).split("\n"),
      ["refs/heads/feature/x", "refs/heads/main"],
      "nothing else was made",
    );
  });

  test("a start after a stop fetches what is new and keeps uncommitted work", async () => {
    await sh("echo 'work in progress' > wip.txt && echo more >> src/main.js");
    // Someone pushes to the remote meanwhile (from the host).
    const newer = pushFromHost(remote.gitDir("app"), "CHANGELOG.md", "v2\n", "Release v2");
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/stop`)).status, 202);
    await waitForPhase(s, box.id, ["stopped"]);
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${box.id}/start`)).status, 202);
    const started = await waitForPhase(s, box.id, ["running"]);
    const stage = started.stages.find((st: { name: string }) => st.name === "repository");
    assert.match(stage?.message ?? "", /fetched/);
    assert.equal(await sh("cat wip.txt"), "work in progress");
    assert.match(await sh("cat src/main.js"), /more$/);
    assert.equal(await sh("git rev-parse origin/main"), newer);
    const status = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/status`)).body;
    assert.equal(status.behind, 1, JSON.stringify(status));
  });

  test("repository URLs and paths that would run commands, read the host or act as options are refused; nothing changes", async () => {
    for (const repoUrl of [
      "ext::sh -c touch% /tmp/pwned",
      "file:///etc",
      "/srv/git/app.git",
      "../app.git",
      "-u/tmp/x",
      "--upload-pack=touch /tmp/pwned",
      "git@host:-oProxyCommand=x",
      "https://user:secret@example.com/a.git",
      "ssh://-oProxyCommand=x/a.git",
    ]) {
      const bad = await api(s, "PATCH", "/api/v1/projects/app", { body: { repoUrl } });
      assert.equal(bad.status, 400, `${repoUrl}: ${JSON.stringify(bad.body)}`);
      assert.equal(bad.body.error.code, "VALIDATION_FAILED");
      assert.ok(bad.body.error.hint);
    }
    assert.equal((await api(s, "GET", "/api/v1/projects/app")).body.repoUrl, remote.url("app"));
    for (const paths of [["../outside"], ["/etc/passwd"], ["--all"], [".git/config"]]) {
      const bad = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/commit`, { body: { message: "x", paths } });
      assert.equal(bad.status, 400, `${paths}: ${JSON.stringify(bad.body)}`);
    }
    const unknown = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/commit`, { body: { message: "x", amend: true } });
    assert.equal(unknown.status, 400);
    const huge = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/commit`, { body: { message: "x".repeat(70 * 1024) } });
    assert.equal(huge.status, 400);
  });

  test("a clone that fails (no token yet) fails the start with what to do; with the token the next start clones", async () => {
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "private", repoUrl: remote.url("lib") } })).status, 201);
    const created = await api(s, "POST", "/api/v1/projects/private/sandboxes");
    const failed = await waitForPhase(s, created.body.id, ["failed", "running"]);
    assert.equal(failed.phase, "failed");
    assert.equal(failed.error.code, "GIT_FAILED");
    assert.match(failed.error.message, /^Cloning http:\/\/host\.outpost\.internal:\d+\/lib\.git failed/);
    assert.match(failed.error.hint, /GITHUB_TOKEN --kind credential/);
    assert.equal(failed.stages.find((st: { name: string }) => st.name === "repository")?.state, "failed");

    const set = await api(s, "POST", "/api/v1/projects/private/secrets", {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200);
    assert.equal((await api(s, "POST", `/api/v1/sandboxes/${created.body.id}/start`)).status, 202);
    // Still `failed` until the reconciler takes the new start up: wait for it to run.
    await waitForPhase(s, created.body.id, ["running"]);
    const listed = await exec(s, created.body.id, ["sh", "-c", "cat lib.txt && git rev-parse --abbrev-ref HEAD"]);
    assert.equal(listed.stdout, "library\nmain\n");
  });

  test("the token is nowhere in the sandbox: files, git config, environments and arguments", async () => {
    const pattern = `[${TOKEN[0]}]${TOKEN.slice(1)}`;
    const found = await exec(s, box.id, [
      "sh",
      "-c",
      // The pattern is written so that this very command line does not match it.
      `grep -rl "${pattern}" /workspace "$HOME" /tmp 2>/dev/null; for p in /proc/[0-9]*; do cat $p/environ $p/cmdline 2>/dev/null; done | tr '\\0' '\\n' | grep -c "${pattern}"; true`,
    ]);
    assert.equal(String(found.stdout).trim(), "0", `found: ${found.stdout}`);
  });
});
