// The project's Git panel and a conversation's branch and pull request, in a real headless
// Chromium against a real `outpost serve` and a real sandbox whose repository is cloned from
// the local smart-HTTP git server (test/helpers/git-http-server.ts, through the egress
// proxy), with the stand-in GitHub for pull requests. A person makes the project's deploy
// key from the panel (and a new one in its place), sets the commit identity; starts a
// conversation with the custom agent (standing for any agent that commits) from a base
// branch, sees its branch in the conversation's header, opens its pull request from there
// and, once GitHub says it is merged, sees it merged; a conversation with its own worktree
// shows it. Screenshots land in /tmp/outpost-ui-git*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium` and `git`, bubblewrap, and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { type GitHubStub, startGitHubStub } from "../helpers/github-stub.ts";
import { deleteEverySandbox, runningSandbox } from "../helpers/sandboxes.ts";
import { getOk, uiTestWith } from "../helpers/ui-test.ts";

const SANDBOX_TIMEOUT_MS = 3 * 60_000;
const TURN_TIMEOUT_MS = 2 * 60_000;
const TOKEN = "ghp_gitSettingsPanelToken0123456789";
const PROJECT = "git-ui";
const IDENTITY = { name: "Review Bot", email: "review-bot@example.com" };
// What the custom agent does with each message: adds a file and commits it.
const AGENT = "printf 'Hello from the agent\\n' > hello.txt && git add -A && git commit -q -m 'Add hello.txt' && echo committed";

let remote: GitHttpServer;
let github: GitHubStub;
let server: OutpostServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let projectId: string;
let sandboxId: string;
let conversationId: string;
let branch: string;

before(async () => {
  remote = await startGitHttpServer({ token: TOKEN });
  await remote.createRepo("acme/app", { "README.md": "# app\n" });
  github = await startGitHubStub({
    token: TOKEN,
    branchSha: (_owner, _repo, name) => {
      try {
        return execFileSync("git", ["--git-dir", remote.gitDir("acme/app"), "rev-parse", "--verify", "--quiet", `refs/heads/${name}`], {
          encoding: "utf8",
        }).trim();
      } catch {
        return undefined;
      }
    },
  });
  [server, browser] = await Promise.all([startOutpost({ env: { OUTPOST_GITHUB_API_URL: github.url } }), launchChromium()]);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const project = await apiJson<{ id: string }>(server, "POST", "/api/v1/projects", { name: PROJECT, repoUrl: remote.url("acme/app"), defaultBranch: "main" });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  projectId = project.body.id;
  const secret = await apiJson(server, "POST", `/api/v1/projects/${projectId}/secrets`, { name: "GITHUB_TOKEN", value: TOKEN, kind: "credential" });
  assert.equal(secret.status, 200, JSON.stringify(secret.body));
  sandboxId = (await runningSandbox(server, projectId, SANDBOX_TIMEOUT_MS)).id;
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
  await github?.stop();
  await remote?.stop();
});

const uiTest = uiTestWith(() => page, "git-");

const get = <T>(path: string) => getOk<T>(server, path);

/** Starts a conversation with the custom agent from the Chat tab's form; returns its id once its first turn ended. */
async function startConversation(options: { command: string; message: string; base?: string; worktree?: boolean }): Promise<string> {
  await page.goto(`${server.url}/sandboxes/${sandboxId}/chat?conversation=new`);
  const form = page.getByTestId("new-conversation");
  await form.waitFor();
  await form.getByRole("combobox", { name: "Agent", exact: true }).click();
  await page.getByRole("option", { name: /^Custom command/ }).click();
  await form.getByLabel("Command", { exact: true }).fill(options.command);
  if (options.base) {
    await form.getByLabel("Base branch", { exact: true }).fill(options.base);
    await page.keyboard.press("Escape");
  }
  if (options.worktree) await form.getByRole("switch", { name: "Work in its own worktree" }).check();
  await form.getByLabel("Message", { exact: true }).fill(options.message);
  await form.getByRole("button", { name: "Send" }).click();
  const view = page.getByTestId("conversation");
  await view.waitFor();
  await page.locator('[data-testid=conversation-status][data-status="succeeded"]').waitFor({ timeout: TURN_TIMEOUT_MS });
  const id = await view.getAttribute("data-conversation-id");
  assert.ok(id?.startsWith("cnv_"), String(id));
  return id as string;
}

describe("the Git panel and a conversation's branch and pull request", () => {
  uiTest("the Git panel makes a deploy key, shows its public half, and makes a new one in its place", async () => {
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/projects/${PROJECT}/git`);
    await page.getByRole("tab", { name: "Git", selected: true }).waitFor();
    const card = page.getByTestId("deploy-key");
    await card.getByTestId("deploy-key-none").waitFor();
    await card.getByRole("button", { name: "Create deploy key" }).click();

    const shown = card.getByTestId("deploy-key-public");
    await shown.waitFor();
    const publicKey = (await shown.innerText()).trim();
    assert.match(publicKey, /^ssh-ed25519 AAAA[0-9A-Za-z+/=]+ \S+$/);
    const stored = await get<{ publicKey: string; fingerprint: string }>(`/api/v1/projects/${projectId}/git/deploy-key`);
    assert.equal(publicKey, stored.publicKey.trim());
    assert.equal(await card.getByTestId("deploy-key-fingerprint").innerText(), stored.fingerprint);
    assert.match(stored.fingerprint, /^SHA256:/);
    await card.getByText("Add it to the repository's deploy keys with write access", { exact: false }).waitFor();
    await page.screenshot({ path: "/tmp/outpost-ui-git-deploy-key.png", fullPage: true });

    // A new key in place of the old, after a confirm.
    await card.getByRole("button", { name: "Rotate key…" }).click();
    const confirm = page.getByRole("dialog", { name: "Make a new deploy key?" });
    await confirm.getByRole("button", { name: "Make a new key" }).click();
    await confirm.waitFor({ state: "detached" });
    await card.getByTestId("deploy-key-public").filter({ hasNotText: publicKey }).waitFor();
    const rotated = await get<{ publicKey: string }>(`/api/v1/projects/${projectId}/git/deploy-key`);
    assert.notEqual(rotated.publicKey, stored.publicKey);
    assert.equal((await shown.innerText()).trim(), rotated.publicKey.trim());
  });

  uiTest("the commit identity set in the panel is stored", async () => {
    const form = page.getByTestId("git-settings");
    const name = form.getByRole("textbox", { name: "Name" });
    assert.equal(await name.inputValue(), "Outpost Agent");
    await name.fill(IDENTITY.name);
    await form.getByRole("textbox", { name: "Email" }).fill(IDENTITY.email);
    await form.getByRole("button", { name: "Save git settings" }).click();
    await page.getByText("Git settings saved").waitFor();
    const project = await get<{ git: { identity: { name: string; email: string }; tokenVariable: string } }>(`/api/v1/projects/${projectId}`);
    assert.deepEqual(project.git.identity, IDENTITY);
    assert.equal(project.git.tokenVariable, "GITHUB_TOKEN");
    // The form shows what is stored after the save.
    await page.reload();
    assert.equal(await page.getByTestId("git-settings").getByRole("textbox", { name: "Email" }).inputValue(), IDENTITY.email);
  });

  uiTest(
    "a conversation shows its branch; its pull request opens from the header and shows merged once GitHub says so",
    async () => {
      conversationId = await startConversation({ command: AGENT, message: "Add a greeting", base: "main" });
      const detail = await get<{ branch: string; baseBranch: string; worktree: string | null; pullRequest: unknown }>(
        `/api/v1/conversations/${conversationId}`,
      );
      branch = detail.branch;
      assert.match(branch, /^outpost\/add-a-greeting-[a-z0-9]+$/);
      assert.equal(detail.baseBranch, "main");
      assert.equal(detail.worktree, null);
      assert.equal(detail.pullRequest, null);
      await page.locator(`[data-testid=conversation-branch][data-branch="${branch}"]`).waitFor();
      assert.equal(await page.getByTestId("conversation-pull-request").count(), 0);

      await page.getByTestId("conversation-git").getByRole("button", { name: "Open pull request" }).click();
      const pr = page.getByTestId("conversation-pull-request");
      await pr.waitFor();
      assert.equal(await pr.getAttribute("data-state"), "open");
      assert.equal(await page.getByTestId("conversation-pull-request-link").getAttribute("href"), "https://github.example/acme/app/pull/1");
      assert.equal(github.pulls.length, 1);
      assert.deepEqual({ head: github.pulls[0]?.head, base: github.pulls[0]?.base }, { head: branch, base: "main" });
      // The branch went to the remote, committed by the identity set in the panel.
      const [pushed] = await remote.log("acme/app", branch);
      assert.equal(pushed?.message.split("\n")[0], "Add hello.txt");
      assert.deepEqual({ name: pushed?.author.name, email: pushed?.author.email }, IDENTITY);
      await page.getByTestId("conversation-git").getByRole("button", { name: "Open pull request" }).waitFor({ state: "detached" });
      await page.screenshot({ path: "/tmp/outpost-ui-git-pull-request.png", fullPage: true });

      // Merged on GitHub: opening the conversation again reads its state afresh.
      github.setPullState(1, "merged");
      await page.reload();
      await page.locator('[data-testid=conversation-pull-request][data-state="merged"]').waitFor();
      assert.equal(await page.getByTestId("conversation-pull-request-state").textContent(), "merged");
      const stored = await get<{ pullRequest: { state: string; number: number } }>(`/api/v1/conversations/${conversationId}`);
      assert.deepEqual({ state: stored.pullRequest.state, number: stored.pullRequest.number }, { state: "merged", number: 1 });
      assert.equal(github.pulls.length, 1);
    },
    TURN_TIMEOUT_MS + 60_000,
  );

  uiTest(
    "a conversation started with its own worktree shows it",
    async () => {
      const id = await startConversation({ command: "echo side > side.txt && pwd", message: "Side quest", worktree: true });
      const detail = await get<{ worktree: string | null; branch: string }>(`/api/v1/conversations/${id}`);
      assert.match(detail.worktree ?? "", /^\/home\/outpost\/worktrees\/side-quest-[a-z0-9]+$/);
      await page.locator(`[data-testid=conversation-worktree][data-worktree="${detail.worktree}"]`).waitFor();
      await page.locator(`[data-testid=conversation-branch][data-branch="${detail.branch}"]`).waitFor();
    },
    TURN_TIMEOUT_MS + 60_000,
  );

  test("no page threw an uncaught error", () => {
    assert.deepEqual(pageErrors, []);
  });
});
