// Git around agent turns, end to end with real parts (a real sandbox, the smart-HTTP remote,
// the stand-in GitHub, the `custom` agent standing for any agent that edits and commits):
// each conversation works on its own branch; its commits are by the project's identity with
// trailers naming who asked and the conversation; a checkpoint before every turn rolls the
// turn back exactly and the rollback can be undone; once it has a pull request, a follow-up
// turn's work is pushed to the same one (never a second); a conversation with a worktree of
// its own leaves /workspace alone.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

const TOKEN = "ghp_AgentTurnsToken0123456789abcdefgh";
// What the "agent" does each turn: edit, delete, add, and commit.
const AGENT = [
  'echo "turn $(cat turns 2>/dev/null | wc -l)" >> turns',
  "rm -f README.md",
  "printf 'const x = 2;\\n' > src/app.js",
  "git add -A && git commit -q -m 'Agent: a turn of work'",
  "echo done",
].join(" && ");

describe("git around agent turns (branch, trailers, checkpoints, pull request, worktree)", () => {
  let s: TestServer;
  let remote: GitHttpServer;
  let github: GitHubStub;
  let box: { id: string; name: string };
  let conversation: { id: string; branch: string };
  let firstRun: string;
  const sh = async (command: string, cwd = "/workspace") => {
    const result = await exec(s, box.id, ["sh", "-c", command], { cwd });
    assert.equal(result.exitCode, 0, `${command}: ${result.stderr}`);
    return String(result.stdout).trim();
  };
  const turn = async (cid: string, text: string) => {
    const sent = await api(s, "POST", `/api/v1/conversations/${cid}/messages`, { body: { text } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)?.data.status, "succeeded", JSON.stringify(events.map((e) => e.data)));
    return sent.body.run.id as string;
  };
  /** Every file under /workspace but .git, with its mode and content hash. */
  const tree = () => sh("find . -path ./.git -prune -o -type f -printf '%m %p ' -exec sha1sum {} \\; | sort");

  before(async () => {
    remote = await startGitHttpServer({ token: TOKEN });
    await remote.createRepo("acme/shop", { "README.md": "# shop\n", "src/app.js": "const x = 1;\n" });
    github = await startGitHubStub({ token: TOKEN });
    s = await startTestServer("embedded", { githubApiUrl: github.url });
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "shop", repoUrl: remote.url("acme/shop") } })).status, 201);
    const set = await api(s, "POST", "/api/v1/projects/shop/secrets", {
      body: { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential", inject: [{ host: "api.github.com", header: "authorization", format: "bearer" }] },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    box = await runningSandbox(s, "shop");
  });
  after(async () => {
    await s?.close();
    await github?.stop();
    await remote?.stop();
  });

  test("a turn works on the conversation's own branch; its commit has the identity and trailers", async () => {
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "custom", command: AGENT, title: "Fix the shop" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conversation = created.body;
    assert.match(conversation.branch, /^outpost\/fix-the-shop-[a-z0-9]{6}$/);
    firstRun = await turn(conversation.id, "Make x two");

    assert.equal(await sh("git rev-parse --abbrev-ref HEAD"), conversation.branch);
    assert.equal(await sh("git rev-parse main"), await sh("git rev-parse origin/main"), "main is where it was");
    const message = await sh("git log -1 --format=%an%n%ae%n%B");
    assert.match(
      message,
      /^Outpost Agent\nagent@outpost\.local\nAgent: a turn of work\n\nCo-authored-by: admin <admin@users\.outpost\.local>\nOutpost-Conversation: \S+\/conversations\/cnv_/,
    );
    const detail = (await api(s, "GET", `/api/v1/conversations/${conversation.id}`)).body;
    assert.equal(detail.branch, conversation.branch);
    assert.equal(detail.baseBranch, "main");
    const branches = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/branches`)).body.branches;
    assert.equal(branches.find((b: { name: string }) => b.name === conversation.branch)?.conversationId, conversation.id);
  });

  test("the checkpoint before the turn rolls it back exactly, and the rollback can be undone", async () => {
    const checkpoints = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/checkpoints`)).body.items;
    const before = checkpoints.find((c: { runId: string }) => c.runId === firstRun);
    assert.equal(before?.reason, "turn", JSON.stringify(checkpoints));
    const afterTurn = await tree();
    const diff = await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/checkpoints/${before.id}/diff`);
    assert.deepEqual(diff.body.files.map((f: { path: string; status: string }) => [f.path, f.status]).sort(), [
      ["README.md", "deleted"],
      ["src/app.js", "modified"],
      ["turns", "added"],
    ]);

    const restored = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/checkpoints/${before.id}/restore`, { body: {} });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(await sh("cat README.md"), "# shop");
    assert.equal(await sh("cat src/app.js"), "const x = 1;");
    assert.equal(await sh("test -e turns || echo gone"), "gone");
    assert.equal(await sh("git rev-parse HEAD"), await sh("git rev-parse origin/main"), "the turn's commit is off the branch");

    const undone = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/checkpoints/${restored.body.undo.id}/restore`, { body: {} });
    assert.equal(undone.status, 200, JSON.stringify(undone.body));
    assert.equal(await tree(), afterTurn, "byte for byte as the turn left it");
    assert.match(await sh("git log -1 --format=%s"), /^Agent: a turn of work$/);
  });

  test("a pull request opens for the branch; a follow-up turn's work goes to the same one", async () => {
    const opened = await api(s, "POST", `/api/v1/sandboxes/${box.id}/git/pull-request`, { body: { conversationId: conversation.id } });
    assert.equal(opened.status, 200, JSON.stringify(opened.body));
    assert.equal(opened.body.head, conversation.branch);
    assert.equal(opened.body.base, "main");
    const posts = () => github.requests.filter((r) => r.method === "POST" && r.path === "/repos/acme/shop/pulls");
    assert.equal(posts().length, 1);
    assert.equal(posts()[0]?.headers.authorization, `Bearer ${TOKEN}`);
    assert.equal((await remote.log("acme/shop", conversation.branch))[0]?.sha, await sh("git rev-parse HEAD"));
    const shown = (await api(s, "GET", `/api/v1/conversations/${conversation.id}`)).body.pullRequest;
    assert.equal(shown?.url, opened.body.url);
    assert.equal(shown?.state, "open");

    // The follow-up's push is announced on the event stream once it landed.
    const events = collectSse(`${s.url}/api/v1/events?project=shop`, { token: s.token, until: (e) => e.some((x) => x.event === "git.pushed") });
    await turn(conversation.id, "And once more");
    const pushed = (await events).find((e) => e.event === "git.pushed");
    assert.equal(pushed?.data.data.branch, conversation.branch);
    const head = await sh("git rev-parse HEAD");
    assert.equal(pushed?.data.data.sha, head);
    assert.equal((await remote.log("acme/shop", conversation.branch))[0]?.sha, head, "the remote branch has the follow-up's commit");
    assert.equal(posts().length, 1, "never a second pull request");
  });

  test("a conversation with its own worktree works there, leaving /workspace alone", async () => {
    const statusBefore = await sh("git status --porcelain; git rev-parse --abbrev-ref HEAD");
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, {
      body: { agent: "custom", command: "echo parallel > parallel.txt && pwd", title: "Side quest", worktree: true, branch: "main" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.worktree, /^\/home\/outpost\/worktrees\/side-quest-[a-z0-9]{6}$/);
    await turn(created.body.id, "Go");
    assert.equal(await sh("cat parallel.txt", created.body.worktree), "parallel");
    assert.equal(await sh("git rev-parse --abbrev-ref HEAD", created.body.worktree), created.body.branch);
    assert.equal(await sh("git rev-parse HEAD", created.body.worktree), await sh("git rev-parse origin/main"), "it started from main");
    assert.equal(await sh("git status --porcelain; git rev-parse --abbrev-ref HEAD"), statusBefore, "/workspace is as it was");
    const branches = (await api(s, "GET", `/api/v1/sandboxes/${box.id}/git/branches`)).body.branches;
    const own = branches.find((b: { name: string }) => b.name === created.body.branch);
    assert.deepEqual([own?.conversationId, own?.worktree], [created.body.id, created.body.worktree]);
  });
});
