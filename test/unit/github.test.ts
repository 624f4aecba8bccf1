// GitHub's pure parts (which repository a URL names, the drafted pull request, GitHub's
// pull request and checks as Outpost's view) and the REST client against the stand-in
// GitHub in test/helpers (real HTTP): headers, errors in GitHub's shape, bounded answers.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import type { OutpostError } from "../../src/domain/errors.ts";
import { draftPullRequest, githubRepository, pullRequestView, summarizeChecks } from "../../src/domain/git/github.ts";
import { GitHubClient, githubToken, tokenMissing } from "../../src/services/git/github-client.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";

describe("githubRepository", () => {
  test("https, ssh and scp forms, on github.com and Enterprise hosts", () => {
    const acme = { host: "github.com", owner: "acme", repo: "shop" };
    assert.deepEqual(githubRepository("https://github.com/acme/shop.git"), acme);
    assert.deepEqual(githubRepository("https://github.com/acme/shop"), acme);
    assert.deepEqual(githubRepository("https://github.com/acme/shop/"), acme);
    assert.deepEqual(githubRepository("git@github.com:acme/shop.git"), acme);
    assert.deepEqual(githubRepository("ssh://git@github.com/acme/shop.git"), acme);
    assert.deepEqual(githubRepository("ssh://git@GHE.Example.com:2222/acme/shop.git"), { host: "ghe.example.com", owner: "acme", repo: "shop" });
    assert.deepEqual(githubRepository("https://ghe.example.com/Team-1/my.repo_x.git"), { host: "ghe.example.com", owner: "Team-1", repo: "my.repo_x" });
  });

  test("anything that is not owner/repo on a network host is null", () => {
    for (const url of [
      "https://github.com/acme",
      "https://github.com/acme/shop/tree/main",
      "file:///srv/acme/shop.git",
      "/srv/acme/shop.git",
      "ext::sh -c id",
      "https://github.com/-acme/shop",
      "https://github.com/acme/sh op",
      "https://github.com/acme/..",
      "ftp://github.com/acme/shop",
      "",
    ]) {
      assert.equal(githubRepository(url), null, url);
    }
  });
});

describe("draftPullRequest", () => {
  test("title from the conversation, each request with the agent's summary, then a link line", () => {
    const draft = draftPullRequest({
      title: "Fix the login form",
      turns: [
        { prompt: "The login form forgets the email.\nFix it.", summary: "Kept the email in state; added a test." },
        { prompt: "Also the password field", summary: null },
      ],
      link: "https://outpost.example/sandboxes/sbx_1/chat?conversation=cnv_1",
    });
    assert.equal(draft.title, "Fix the login form");
    assert.match(draft.body, /### Request 1\n\n> The login form forgets the email\.\n> Fix it\./);
    assert.match(draft.body, /\*\*Result\*\*\n\nKept the email in state; added a test\./);
    assert.match(draft.body, /### Request 2\n\n> Also the password field/);
    assert.ok(draft.body.endsWith("Made with Outpost: https://outpost.example/sandboxes/sbx_1/chat?conversation=cnv_1"));
  });

  test("an untitled conversation takes its first prompt, on one line and bounded", () => {
    const draft = draftPullRequest({ title: "New conversation", turns: [{ prompt: `Refactor\n  the ${"x".repeat(300)}`, summary: "done" }], link: null });
    assert.ok(draft.title.startsWith("Refactor the xxx"));
    assert.ok(draft.title.length <= 120);
    assert.ok(!draft.title.includes("\n"));
    assert.ok(!draft.body.includes("Made with Outpost"));
    assert.equal(draftPullRequest({ title: "", turns: [], link: null }).title, "Changes from Outpost");
  });
});

describe("pullRequestView", () => {
  const pr = {
    number: 7,
    html_url: "https://github.com/a/b/pull/7",
    state: "open" as const,
    head: { ref: "outpost/x", sha: "abc1234" },
    base: { ref: "main" },
  };
  const now = new Date("2025-01-02T03:04:05Z");

  test("open, merged and closed", () => {
    assert.equal(pullRequestView(pr, [], now).state, "open");
    assert.equal(pullRequestView({ ...pr, state: "closed", merged: true }, [], now).state, "merged");
    assert.equal(pullRequestView({ ...pr, state: "closed", merged_at: "2025-01-01T00:00:00Z" }, [], now).state, "merged");
    assert.equal(pullRequestView({ ...pr, state: "closed", merged: false, merged_at: null }, [], now).state, "closed");
    assert.deepEqual(pullRequestView({ ...pr, draft: true }, [], now), {
      number: 7,
      url: "https://github.com/a/b/pull/7",
      state: "open",
      draft: true,
      headSha: "abc1234",
      head: "outpost/x",
      base: "main",
      checks: { total: 0, passed: 0, failed: 0, pending: 0 },
      updatedAt: now.toISOString(),
    });
  });

  test("checks: success, neutral and skipped pass; unfinished ones are pending; every other conclusion fails", () => {
    assert.deepEqual(
      summarizeChecks([
        { status: "completed", conclusion: "success" },
        { status: "completed", conclusion: "neutral" },
        { status: "completed", conclusion: "skipped" },
        { status: "completed", conclusion: "failure" },
        { status: "completed", conclusion: "timed_out" },
        { status: "completed", conclusion: null },
        { status: "in_progress", conclusion: null },
        { status: "queued", conclusion: null },
      ]),
      { total: 8, passed: 3, failed: 3, pending: 2 },
    );
  });
});

describe("the project's token", () => {
  const cred = (name: string, value: string) => ({ name, value, placeholder: "p", inject: [] });
  test("the configured credential, else GITHUB_TOKEN, else GH_TOKEN; missing names the token it needs", () => {
    assert.deepEqual(githubToken([cred("GH_TOKEN", "b"), cred("GITHUB_TOKEN", "a")]), { name: "GITHUB_TOKEN", value: "a" });
    assert.deepEqual(githubToken([cred("GH_TOKEN", "b")]), { name: "GH_TOKEN", value: "b" });
    assert.deepEqual(githubToken([cred("GITHUB_TOKEN", "a"), cred("ORG_TOKEN", "c")], "ORG_TOKEN"), { name: "ORG_TOKEN", value: "c" });
    assert.equal(githubToken([cred("GITHUB_TOKEN", "a")], "ORG_TOKEN"), null);
    const error = tokenMissing({ name: "shop" });
    assert.equal(error.code, "GITHUB_TOKEN_MISSING");
    assert.match(error.message, /GITHUB_TOKEN/);
    assert.match(error.message, /deploy key/);
    assert.match(error.fix ?? "", /outpost secret set shop GITHUB_TOKEN --kind credential/);
    assert.match(tokenMissing({ name: "shop" }, "ORG_TOKEN").message, /ORG_TOKEN/);
  });
});

describe("GitHubClient against the stand-in GitHub", () => {
  let stub: GitHubStub;
  const repo = { host: "github.com", owner: "acme", repo: "shop" };
  before(async () => {
    stub = await startGitHubStub();
  });
  after(() => stub.stop());

  test("create, find by head, update, get and check runs, with GitHub's headers", async () => {
    const client = new GitHubClient({ apiUrl: `${stub.url}/`, token: stub.token });
    stub.setBranchSha("acme", "shop", "feature", "a".repeat(40));
    stub.setCheckRuns("a".repeat(40), [{ name: "ci", status: "completed", conclusion: "success" }]);
    assert.equal(await client.findOpen(repo, "feature"), null);
    const created = await client.create(repo, { title: "T", body: "B", head: "feature", base: "main", draft: true });
    assert.equal(created.number, 1);
    assert.equal(created.draft, true);
    assert.equal((await client.findOpen(repo, "feature"))?.number, 1);
    assert.equal((await client.update(repo, 1, { title: "T2" })).number, 1);
    assert.equal(stub.pulls[0]?.title, "T2");
    stub.setPullState(1, "merged");
    assert.equal((await client.get(repo, 1)).merged, true);
    assert.deepEqual(await client.checkRuns(repo, "a".repeat(40)), [
      { id: 1, name: "ci", head_sha: "a".repeat(40), status: "completed", conclusion: "success" },
    ]);
    for (const request of stub.requests) {
      assert.equal(request.headers.authorization, `Bearer ${stub.token}`);
      assert.equal(request.headers.accept, "application/vnd.github+json");
      assert.equal(request.headers["x-github-api-version"], "2022-11-28");
    }
    assert.deepEqual(stub.requests.find((r) => r.method === "GET" && r.path === "/repos/acme/shop/pulls")?.query, {
      head: "acme:feature",
      state: "open",
      per_page: "10",
    });
  });

  test("GitHub's errors become GITHUB_API_FAILED with GitHub's message", async () => {
    const refused = new GitHubClient({ apiUrl: stub.url, token: "wrong" });
    await assert.rejects(refused.get(repo, 1), (error: OutpostError) => {
      assert.equal(error.code, "GITHUB_API_FAILED");
      assert.match(error.message, /401.*Bad credentials.*token was refused/);
      return true;
    });
    const client = new GitHubClient({ apiUrl: stub.url, token: stub.token });
    await assert.rejects(client.create(repo, { title: "", body: "", head: "x", base: "main", draft: false }), /422.*Validation Failed/);
    await assert.rejects(client.get({ ...repo, repo: "nope" }, 99), /404.*Not Found.*cannot see it/);
  });

  test("an oversized or non-JSON answer, and an unreachable API, are refused", async () => {
    const junk = createServer((req, res) => {
      if (req.url?.includes("/pulls/1")) res.end("x".repeat(2048));
      else res.end("<html>not json</html>");
    });
    await new Promise<void>((resolve) => junk.listen(0, "127.0.0.1", resolve));
    const apiUrl = `http://127.0.0.1:${(junk.address() as AddressInfo).port}`;
    try {
      const client = new GitHubClient({ apiUrl, token: "t", maxResponseBytes: 1024 });
      await assert.rejects(client.get(repo, 1), /over 1024 bytes/);
      await assert.rejects(client.get(repo, 2), /not JSON/);
    } finally {
      junk.closeAllConnections();
      await new Promise((resolve) => junk.close(resolve));
    }
    await assert.rejects(
      new GitHubClient({ apiUrl, token: "t" }).get(repo, 1),
      (error: OutpostError) => error.code === "GITHUB_API_FAILED" && /Could not reach/.test(error.message),
    );
  });
});
