// Pull requests end to end with real parts: a real sandbox whose repository is served by the
// local smart-HTTP git server (through the sandbox's egress path, the token put in by the
// proxy), and the stand-in GitHub in test/helpers. The service pushes the branch from the
// sandbox, then opens the pull request with the right head, base, title and auth; a
// follow-up updates the same one; the default branch is refused as a head; a project without
// a token is told which one it needs; a merge shows after a refresh.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadSecretKey } from "../../src/config/data-dir.ts";
import { SecretBox } from "../../src/crypto/secrets.ts";
import type { Principal } from "../../src/domain/authorization.ts";
import type { OutpostError } from "../../src/domain/errors.ts";
import { PullRequestService } from "../../src/services/git/pull-requests.ts";
import { sandboxGitRunner } from "../../src/services/git/sandbox-git.ts";
import type { SandboxRow } from "../../src/services/sandboxes.ts";
import { VariableService } from "../../src/services/variables.ts";
import { type GitHttpServer, HOST_MACHINE, startGitHttpServer } from "../helpers/git-http-server.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

const TOKEN = "ghp_PullRequestToken0123456789abcdef";
const BRANCH = "outpost/fix-login";
const IDENTITY = {
  GIT_AUTHOR_NAME: "Outpost Agent",
  GIT_AUTHOR_EMAIL: "agent@outpost.local",
  GIT_COMMITTER_NAME: "Outpost Agent",
  GIT_COMMITTER_EMAIL: "agent@outpost.local",
};

describe("pull requests (sandbox, smart-HTTP remote, stand-in GitHub)", () => {
  let s: TestServer;
  let remote: GitHttpServer;
  let github: GitHubStub;
  let service: PullRequestService;
  let principal: Principal;
  let box: { id: string; name: string };
  let conversationId: string;
  let remoteDir: string;
  const pushed: string[] = [];

  /** The sha a branch has on the remote, or null. */
  const remoteSha = (branch: string): string | null => {
    try {
      return execFileSync("git", ["--git-dir", remoteDir, "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { encoding: "utf8" }).trim();
    } catch {
      return null;
    }
  };
  const sh = async (command: string) => {
    const result = await exec(s, box.id, ["sh", "-c", command], { env: IDENTITY });
    assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
    return String(result.stdout).trim();
  };

  before(async () => {
    // GitHub repositories are owner/name: the served repository moves to <root>/acme/shop.git.
    remote = await startGitHttpServer({ token: TOKEN });
    await remote.createRepo("shop", { "README.md": "# shop\n", "login.js": "export const login = () => {};\n" });
    remoteDir = join(remote.root, "acme", "shop.git");
    mkdirSync(dirname(remoteDir));
    renameSync(remote.gitDir("shop"), remoteDir);
    github = await startGitHubStub({
      token: TOKEN,
      branchSha: (owner, repo, branch) => (owner === "acme" && repo === "shop" ? (remoteSha(branch) ?? undefined) : undefined),
    });

    s = await startTestServer("embedded", { githubApiUrl: github.url });
    principal = { userId: (await api(s, "GET", "/api/v1/me")).body.id, isAdmin: true };
    const repoUrl = `http://${HOST_MACHINE}:${remote.port}/acme/shop.git`;
    const created = await api(s, "POST", "/api/v1/projects", {
      body: { name: "shop", repoUrl, defaultBranch: "main", egress: { level: "custom", allow: [`${HOST_MACHINE}:${remote.port}`] } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    // One token for both: git over HTTP (put in by the egress proxy) and GitHub's API (by the service).
    const set = await api(s, "POST", "/api/v1/projects/shop/secrets", {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: HOST_MACHINE, header: "authorization", format: "basic" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    box = await runningSandbox(s, "shop");
    // The repository stage clones it; a build without that stage yet gets the same clone here.
    await sh(`test -d .git || git clone --quiet ${repoUrl} .`);
    await sh(`git switch --quiet -c ${BRANCH} && echo 'export const login = (email) => email;' > login.js && git commit --quiet -am 'Keep the email'`);
    const conversation = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, {
      body: { agent: "custom", command: "true", title: "Fix the login form" },
    });
    assert.equal(conversation.status, 201, JSON.stringify(conversation.body));
    conversationId = conversation.body.id;
    await s.server.pool.query("update conversations set branch = $2, base_branch = 'main' where id = $1", [conversationId, BRANCH]);

    const variables = new VariableService(s.server.pool, new SecretBox(loadSecretKey(s.dataDir, undefined)));
    const runnerFor = async (sandbox: SandboxRow) => {
      const link = await s.server.sandboxes.driver.connect(sandbox.id);
      return sandboxGitRunner(link.client, { ...(await variables.forCommands(sandbox.projectId)).env, ...IDENTITY });
    };
    service = new PullRequestService({
      pool: s.server.pool,
      sandboxes: s.server.sandboxes.service,
      runner: runnerFor,
      push: async (sandbox, branch, signal) => {
        pushed.push(branch);
        await (await runnerFor(sandbox)).gitOk(["push", "--quiet", "origin", `refs/heads/${branch}:refs/heads/${branch}`], { signal });
      },
      credentials: (projectId) => variables.credentials(projectId),
      apiUrl: s.settings.githubApiUrl,
      publicUrl: () => "https://outpost.example",
    });
  });
  after(async () => {
    await s?.close();
    await github?.stop();
    await remote?.stop();
  });

  test("the first call pushes the conversation's branch and opens its pull request with the right head, base, title and auth", async () => {
    const view = await service.open(principal, box.id, { conversationId });
    const head = await sh("git rev-parse HEAD");
    assert.deepEqual(pushed, [BRANCH]);
    assert.equal(remoteSha(BRANCH), head, "the remote has the sandbox's commit");

    const posts = github.requests.filter((r) => r.method === "POST");
    assert.equal(posts.length, 1);
    const post = posts[0];
    assert.equal(post?.path, "/repos/acme/shop/pulls");
    assert.equal(post?.headers.authorization, `Bearer ${TOKEN}`);
    const body = post?.body as { title: string; body: string; head: string; base: string; draft: boolean };
    assert.equal(body.head, BRANCH);
    assert.equal(body.base, "main");
    assert.equal(body.title, "Fix the login form");
    assert.equal(body.draft, false);
    assert.match(body.body, new RegExp(`https://outpost\\.example/sandboxes/${box.id}/chat\\?conversation=${conversationId}`));

    assert.equal(view.number, 1);
    assert.equal(view.state, "open");
    assert.equal(view.headSha, head);
    assert.equal(view.conversationId, conversationId);
    const stored = await s.server.pool.query("select pull_request from conversations where id = $1", [conversationId]);
    assert.equal(stored.rows[0].pull_request.number, 1);
    assert.equal(stored.rows[0].pull_request.url, view.url);
  });

  test("a follow-up commit updates the same pull request (PATCH), never a second POST", async () => {
    await sh("echo 'export const logout = () => {};' >> login.js && git commit --quiet -am 'Add logout'");
    const head = await sh("git rev-parse HEAD");
    const before = github.requests.length;
    const view = await service.open(principal, box.id, { conversationId, title: "Fix the login form (and logout)" });
    const calls = github.requests.slice(before);
    assert.deepEqual(
      calls.map((r) => `${r.method} ${r.path}`),
      ["GET /repos/acme/shop/pulls", "PATCH /repos/acme/shop/pulls/1", `GET /repos/acme/shop/commits/${head}/check-runs`],
    );
    assert.deepEqual(calls[1]?.body, { title: "Fix the login form (and logout)" });
    assert.equal(remoteSha(BRANCH), head);
    assert.equal(view.number, 1);
    assert.equal(view.headSha, head);
    assert.equal(github.pulls.length, 1);
    assert.equal(github.pulls[0]?.title, "Fix the login form (and logout)");

    // Without a conversation: the checked-out branch's open pull request, found, left as it is.
    const again = await service.open(principal, box.id, {});
    assert.equal(again.number, 1);
    assert.equal(again.conversationId, conversationId, "the conversation working on the branch keeps it");
    assert.equal(github.requests.filter((r) => r.method === "POST").length, 1);
    assert.equal(github.requests.filter((r) => r.method === "PATCH").length, 1);
  });

  test("the default branch is never a head: 409 with a hint, nothing pushed", async () => {
    await sh("git switch --quiet main");
    const mainBefore = remoteSha("main");
    const pushes = pushed.length;
    try {
      await assert.rejects(service.open(principal, box.id, {}), (error: OutpostError) => {
        assert.equal(error.code, "PULL_REQUEST_HEAD_INVALID");
        assert.match(error.message, /'main' is the base branch/);
        return true;
      });
      assert.equal(pushed.length, pushes);
      assert.equal(remoteSha("main"), mainBefore);
    } finally {
      await sh(`git switch --quiet ${BRANCH}`);
    }
  });

  test("a merge and the checks show after a refresh, and are kept on the conversation", async () => {
    const head = await sh("git rev-parse HEAD");
    github.setCheckRuns(head, [
      { name: "test", status: "completed", conclusion: "success" },
      { name: "lint", status: "completed", conclusion: "failure" },
      { name: "deploy", status: "in_progress", conclusion: null },
    ]);
    github.setPullState(1, "merged");
    const view = await service.refresh(principal, box.id, conversationId);
    assert.equal(view.state, "merged");
    assert.deepEqual(view.checks, { total: 3, passed: 1, failed: 1, pending: 1 });
    const stored = await s.server.pool.query("select pull_request from conversations where id = $1", [conversationId]);
    assert.equal(stored.rows[0].pull_request.state, "merged");
  });

  test("a project without a token is told which credential it needs, before anything is pushed or asked", async () => {
    assert.equal((await api(s, "DELETE", "/api/v1/projects/shop/secrets/GITHUB_TOKEN")).status, 204);
    const requests = github.requests.length;
    const pushes = pushed.length;
    await assert.rejects(service.open(principal, box.id, { conversationId }), (error: OutpostError) => {
      assert.equal(error.code, "GITHUB_TOKEN_MISSING");
      assert.match(error.message, /GITHUB_TOKEN/);
      assert.match(error.fix ?? "", /outpost secret set shop GITHUB_TOKEN --kind credential/);
      return true;
    });
    assert.equal(github.requests.length, requests);
    assert.equal(pushed.length, pushes);
  });
});
