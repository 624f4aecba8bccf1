// The Changes tab in a real headless Chromium against a real `outpost serve` and a real
// sandbox whose repository is cloned from a local smart-HTTP git server
// (test/helpers/git-http-server.ts, reached as host.outpost.internal through the egress
// proxy, which adds the project's GITHUB_TOKEN), with the real Claude Code CLI driven by the
// Anthropic stand-in and a stand-in GitHub for the pull request. A turn the agent takes
// shows up in the open panel by itself (its events make the panel stale), with each file's
// diff unified and side by side; the turn's checkpoint is diffed, restored and the restore
// undone; then a person creates a branch, commits with a typed message, pushes (the remote
// has the commit) and opens a pull request (GitHub got it; the panel links it), and updating
// it opens no second one. Screenshots land in /tmp/outpost-ui-changes*.png.
// Needs Debian's `chromium` and `git`, bubblewrap, npm access for the first Claude Code
// install (shared through AGENTS_DIR), and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { AGENTS_DIR } from "../helpers/agents.ts";
import { type AnthropicAgentStub, startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";
import { deleteEverySandbox, runningSandbox } from "../helpers/sandboxes.ts";
import { uiTestWith } from "../helpers/ui-test.ts";

/** The first run may install Claude Code with npm into AGENTS_DIR. */
const FIRST_RUN_TIMEOUT_MS = 10 * 60_000;
const SANDBOX_TIMEOUT_MS = 3 * 60_000;

/** One token for both: the git remote and GitHub take what the project's GITHUB_TOKEN holds. */
const TOKEN = "ghp_changesPanelTestToken0123456789";
const README = "# App\n\nA small app.\n";
const README_AFTER = "# App\n\nA small app that greets you.\n";
const HELLO = "Hello, reader!\nWelcome to the app.\n";
const BRANCH = "review/greeting";
const MESSAGE_SUBJECT = "Greet the reader";
const MESSAGE = `${MESSAGE_SUBJECT}\n\nAdds hello.md and says so in the README.`;
const PR_TITLE = "Greet the reader (from the Changes panel)";

let git: GitHttpServer;
let github: GitHubStub;
let stub: AnthropicAgentStub;
let server: OutpostServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let sandboxId: string;
let serverLog = "";

/** A file of the sandbox's workspace, read through the API (null when it is not there). */
async function workspaceFile(path: string): Promise<string | null> {
  const response = await fetch(`${server.url}/api/v1/sandboxes/${sandboxId}/files/content?path=${encodeURIComponent(`/workspace/${path}`)}`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  const body = await response.text();
  if (response.status === 404) return null;
  assert.equal(response.status, 200, body);
  return body;
}

before(async () => {
  git = await startGitHttpServer({ token: TOKEN });
  await git.createRepo("app", { "README.md": README, ".gitignore": "node_modules/\n" });
  // GitHub names a repository owner/name: serve the same bare repository as /acme/app.git
  // too, so the project's URL reads as a GitHub one while git.log("app") sees what lands.
  mkdirSync(join(git.root, "acme"));
  symlinkSync(git.gitDir("app"), join(git.root, "acme", "app.git"));
  const repoUrl = git.url("app").replace(/\/app\.git$/, "/acme/app.git");

  github = await startGitHubStub({
    token: TOKEN,
    branchSha: (_owner, _repo, branch) => {
      try {
        return execFileSync("git", ["--git-dir", git.gitDir("app"), "rev-parse", "--verify", "--quiet", `refs/heads/${branch}`], { encoding: "utf8" }).trim();
      } catch {
        return undefined;
      }
    },
  });
  stub = await startAnthropicAgentStub();
  [server, browser] = await Promise.all([
    startOutpost({ env: { OUTPOST_ANTHROPIC_UPSTREAM: stub.url, OUTPOST_AGENTS_DIR: AGENTS_DIR, OUTPOST_GITHUB_API_URL: github.url } }),
    launchChromium(),
  ]);
  // Its log (JSON lines on stdout), for the warnings a failing test prints.
  server.child.stdout?.on("data", (chunk: string | Buffer) => {
    serverLog = (serverLog + chunk.toString()).slice(-20_000);
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const project = await apiJson<{ id: string }>(server, "POST", "/api/v1/projects", { name: "changes-ui", repoUrl, defaultBranch: "main" });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  for (const [name, value] of [
    ["ANTHROPIC_API_KEY", "sk-ant-test-key-for-the-stub"],
    ["GITHUB_TOKEN", TOKEN],
  ] as const) {
    const secret = await apiJson(server, "POST", `/api/v1/projects/${project.body.id}/secrets`, { name, value, kind: "credential" });
    assert.equal(secret.status, 200, JSON.stringify(secret.body));
  }
  sandboxId = (await runningSandbox(server, project.body.id, SANDBOX_TIMEOUT_MS)).id;
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
  await stub?.close();
  await github?.stop();
  await git?.stop();
});

const uiTest = uiTestWith(
  () => page,
  "changes-",
  () =>
    // The server's warnings (a failed checkpoint or push before or after a turn) say why.
    console.error(`outpost serve's log (the end):\n${serverLog.slice(-6000)}\n${server.stderr.text.slice(-2000)}`),
);

const fileRow = (path: string) => page.locator(`[data-testid=changes-file][data-path="${path}"]`);
const diffCard = (path: string) => page.locator(`[data-testid=changes-diff-file][data-path="${path}"]`);

describe("the Changes tab", () => {
  uiTest("the cloned repository shows clean, on the default branch", async () => {
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/sandboxes/${sandboxId}/changes`);
    await page.getByRole("tab", { name: "Changes", selected: true }).waitFor();
    await page.getByTestId("changes-clean").waitFor();
    assert.equal(await page.getByTestId("branch-current").getAttribute("data-branch"), "main");
    await page.getByTestId("pull-request-none").waitFor();
  });

  uiTest(
    "an agent's turn shows up in the open panel, each file's diff unified and side by side",
    async () => {
      stub.queue(
        {
          blocks: [
            { tool: "Bash", input: { command: "sed -i 's/A small app./A small app that greets you./' /workspace/README.md", description: "Edit the README" } },
          ],
        },
        { blocks: [{ tool: "Write", input: { file_path: "/workspace/hello.md", content: HELLO } }] },
        { blocks: [{ text: "Done: hello.md greets the reader." }] },
      );
      // The turn is started through the API while the panel is shown: only its events can
      // tell the panel that the files changed.
      const conversation = await apiJson<{ id: string }>(server, "POST", `/api/v1/sandboxes/${sandboxId}/conversations`, { agent: "claude-code" });
      assert.equal(conversation.status, 201, JSON.stringify(conversation.body));
      const sent = await apiJson(server, "POST", `/api/v1/conversations/${conversation.body.id}/messages`, { text: "Greet the reader in hello.md" });
      assert.ok(sent.status < 300, JSON.stringify(sent.body));

      await fileRow("hello.md").waitFor({ timeout: FIRST_RUN_TIMEOUT_MS });
      await fileRow("README.md").waitFor();
      assert.equal(await fileRow("README.md").getAttribute("data-status"), "modified");
      assert.match((await fileRow("hello.md").getAttribute("data-status")) ?? "", /^(untracked|added)$/);
      assert.equal(await page.getByTestId("changes-count").innerText(), "2 files");

      // README.md, unified: the old line removed, the new one added, with line numbers.
      const readme = diffCard("README.md");
      await readme.getByTestId("diff-unified").waitFor();
      assert.deepEqual(await readme.locator('tr[data-line="del"] td.text').allInnerTexts(), ["A small app."]);
      assert.deepEqual(await readme.locator('tr[data-line="add"] td.text').allInnerTexts(), ["A small app that greets you."]);
      // Side by side: the removed line on the left beside the added one on the right, same row.
      await readme.getByText("Side by side").click();
      const split = readme.getByTestId("diff-split");
      await split.waitFor();
      const changed = split.locator("tr.side").filter({ has: page.locator('td[data-side="old"][data-line="del"]') });
      assert.equal(await changed.count(), 1);
      assert.equal(await changed.locator('td[data-side="old"]').innerText(), "A small app.");
      assert.equal(await changed.locator('td[data-side="new"][data-line="add"]').innerText(), "A small app that greets you.");

      // The new file: every line added. Picking it in the list shows its diff alone.
      await fileRow("hello.md").getByRole("button").click();
      await readme.waitFor({ state: "detached" });
      const hello = diffCard("hello.md");
      assert.deepEqual(await hello.locator('[data-line="add"] td.text, td.text[data-line="add"]').allInnerTexts(), ["Hello, reader!", "Welcome to the app."]);
      assert.match(await hello.getByLabel("2 lines added").innerText(), /\+2/);
      await page.getByRole("button", { name: "Show every file" }).click();
      await readme.waitFor();
      await page.screenshot({ path: "/tmp/outpost-ui-changes.png", fullPage: true });
    },
    FIRST_RUN_TIMEOUT_MS + 60_000,
  );

  uiTest("the turn's checkpoint shows what the turn changed, restores the files before it, and the restore is undone", async () => {
    const checkpoint = page.locator("[data-testid=checkpoint][data-reason=turn]").first();
    await checkpoint.waitFor();
    await checkpoint.getByRole("button", { name: "Diff" }).click();
    const diff = page.getByRole("dialog").getByTestId("checkpoint-diff");
    await diff.waitFor();
    await diff.locator('[data-testid=changes-diff-file][data-path="hello.md"]').waitFor();
    await diff.locator('[data-testid=changes-diff-file][data-path="README.md"]').waitFor();
    await page.keyboard.press("Escape");
    await diff.waitFor({ state: "detached" });

    await checkpoint.getByRole("button", { name: "Restore" }).click();
    const confirm = page.getByRole("dialog", { name: "Restore this checkpoint?" });
    await confirm.getByRole("button", { name: "Restore checkpoint" }).click();
    await page.getByTestId("restore-done").waitFor();
    await page.getByTestId("changes-clean").waitFor();
    assert.equal(await workspaceFile("hello.md"), null);
    assert.equal(await workspaceFile("README.md"), README);
    await page.screenshot({ path: "/tmp/outpost-ui-changes-restored.png", fullPage: true });

    await page.getByTestId("restore-done").getByRole("button", { name: "Undo" }).click();
    await page.getByTestId("restore-done").waitFor({ state: "detached" });
    await fileRow("hello.md").waitFor();
    await fileRow("README.md").waitFor();
    assert.equal(await workspaceFile("hello.md"), HELLO);
    assert.equal(await workspaceFile("README.md"), README_AFTER);
    // Each restore checkpointed the state it replaced first.
    assert.ok((await page.locator("[data-testid=checkpoint][data-reason=before-restore]").count()) >= 1);
  });

  uiTest("a new branch, a commit with a typed message and a push: the remote has the commit", async () => {
    await page.getByTestId("branch-current").click();
    await page.getByRole("menuitem", { name: "New branch…" }).click();
    const dialog = page.getByRole("dialog", { name: "New branch" });
    await dialog.getByLabel("Name").fill(BRANCH);
    await dialog.getByRole("button", { name: "Create branch" }).click();
    await page.locator(`[data-testid=branch-current][data-branch="${BRANCH}"]`).waitFor();
    // The uncommitted changes came along.
    await fileRow("hello.md").waitFor();

    await page.getByLabel("Commit message").fill(MESSAGE);
    await page.getByRole("button", { name: "Commit", exact: true }).click();
    // The commit's notice comes once the API answered; the status may turn clean before that
    // (a refresh on the way), so the box is read after the notice.
    await page.getByText(/^Committed [0-9a-f]{7}/).waitFor();
    await page.getByTestId("changes-clean").waitFor();
    assert.equal(await page.getByLabel("Commit message").inputValue(), "");

    await page.getByRole("button", { name: "Push branch" }).click();
    await page.getByText(`Pushed ${BRANCH}`).waitFor();
    const [pushed] = await git.log("app", BRANCH);
    assert.ok(pushed, "the remote has the branch");
    assert.equal(pushed.message.split("\n")[0], MESSAGE_SUBJECT);
    assert.match(pushed.message, /Adds hello\.md and says so in the README\./);
    assert.equal(pushed.author.email, "agent@outpost.local");
    // main on the remote is untouched.
    assert.equal((await git.log("app", "main")).length, 1);
  });

  uiTest("a pull request is opened from the panel, linked with its state, and updating it opens no second one", async () => {
    await page.getByTestId("commit-box").getByRole("button", { name: "Open pull request" }).click();
    const dialog = page.getByRole("dialog", { name: `Open a pull request for ${BRANCH}` });
    await dialog.getByLabel("Title").fill(PR_TITLE);
    await dialog.getByRole("button", { name: "Open pull request" }).click();
    const link = page.getByTestId("pull-request-link");
    await link.waitFor();
    assert.equal(await link.getAttribute("href"), "https://github.example/acme/app/pull/1");
    assert.equal(await page.getByTestId("pull-request").getAttribute("data-state"), "open");
    assert.equal(await page.getByTestId("pull-request-state").textContent(), "open");

    assert.equal(github.pulls.length, 1);
    const pr = github.pulls[0]!;
    assert.deepEqual(
      { owner: pr.owner, repo: pr.repo, head: pr.head, base: pr.base, title: pr.title },
      { owner: "acme", repo: "app", head: BRANCH, base: "main", title: PR_TITLE },
    );
    const [pushed] = await git.log("app", BRANCH);
    assert.equal(pr.headSha, pushed?.sha);
    const created = github.requests.filter((r) => r.method === "POST" && r.path === "/repos/acme/app/pulls");
    assert.equal(created.length, 1);
    assert.match(String(created[0]?.headers.authorization), new RegExp(`^(Bearer|token) ${TOKEN}$`));
    await page.screenshot({ path: "/tmp/outpost-ui-changes-pr.png", fullPage: true });

    await page.getByRole("button", { name: "Update pull request" }).click();
    await page.getByText("Pull request #1 updated").waitFor();
    assert.equal(github.pulls.length, 1);
    assert.equal(github.requests.filter((r) => r.method === "POST" && r.path === "/repos/acme/app/pulls").length, 1);
  });

  test("no page threw an uncaught error", () => {
    assert.deepEqual(pageErrors, []);
  });
});
