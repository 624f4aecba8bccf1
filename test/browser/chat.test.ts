// The Chat tab in a real headless Chromium against a real `outpost serve`, a real sandbox and
// the real Claude Code CLI, whose model API is the stand-in of test/helpers/anthropic-agent-stub.ts
// (reached through the sandbox's model gateway, OUTPOST_ANTHROPIC_UPSTREAM). A person starts a
// conversation, watches the agent's text, its Write tool call and the file's diff arrive while
// the turn runs, sees the turn end with its usage, finds the file in the Files tab, sends a
// follow-up, then finds the conversation on the project page and sets the project's agent
// settings. Screenshots land in /tmp/outpost-ui-chat*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium`, bubblewrap, npm access for the first Claude Code install (shared
// through AGENTS_DIR), and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { AGENTS_DIR } from "../helpers/agents.ts";
import { type AnthropicAgentStub, gate, startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { deleteEverySandbox, runningSandbox } from "../helpers/sandboxes.ts";
import { uiTestWith } from "../helpers/ui-test.ts";

/** The first run may install Claude Code with npm into AGENTS_DIR. */
const FIRST_RUN_TIMEOUT_MS = 10 * 60_000;
const SANDBOX_TIMEOUT_MS = 90_000;

const PROMPT = "Write a short hello.md in the workspace";
const FIRST_TEXT = "I'll write **hello.md** for you.";
const FILE_CONTENT = "# Hello\n\nWritten by the agent.\n";
const FINAL_TEXT = "Done: `hello.md` now greets the reader.";

let server: OutpostServer;
let stub: AnthropicAgentStub;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let projectId: string;
let sandboxId: string;
let conversationId: string;

before(async () => {
  stub = await startAnthropicAgentStub();
  [server, browser] = await Promise.all([startOutpost({ env: { OUTPOST_ANTHROPIC_UPSTREAM: stub.url, OUTPOST_AGENTS_DIR: AGENTS_DIR } }), launchChromium()]);
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));

  const project = await apiJson<{ id: string }>(server, "POST", "/api/v1/projects", { name: "chat-ui" });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  projectId = project.body.id;
  const secret = await apiJson(server, "POST", `/api/v1/projects/${projectId}/secrets`, {
    name: "ANTHROPIC_API_KEY",
    value: "sk-ant-test-key-for-the-stub",
    kind: "credential",
  });
  assert.equal(secret.status, 200, JSON.stringify(secret.body));
  sandboxId = (await runningSandbox(server, projectId, SANDBOX_TIMEOUT_MS)).id;
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
  await stub?.close();
});

const uiTest = uiTestWith(() => page, "chat-");

describe("the Chat tab", () => {
  uiTest("the sandbox page opens on the Chat tab, ready for a new conversation", async () => {
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/sandboxes/${sandboxId}`);
    await page.getByRole("tab", { name: "Chat", selected: true }).waitFor();
    const draft = page.getByTestId("new-conversation");
    await draft.waitFor();
    assert.match(await draft.getByRole("combobox", { name: "Agent" }).inputValue(), /^Claude Code/);
  });

  uiTest(
    "a prompt streams the agent's answer, its tool call and the file's diff, then the turn ends with its usage",
    async () => {
      // The agent's second model call (after the Write) waits, so the running turn can be seen.
      const held = gate();
      stub.queue(
        {
          blocks: [{ text: FIRST_TEXT }, { tool: "Write", input: { file_path: "/workspace/hello.md", content: FILE_CONTENT } }],
          usage: { input: 1200, output: 80 },
        },
        { gate: held.promise, next: { blocks: [{ text: FINAL_TEXT }], usage: { input: 1500, output: 40 } } },
      );
      await page.getByTestId("chat-input").fill(PROMPT);
      await page.getByTestId("chat-input").press("Control+Enter");

      const conversation = page.getByTestId("conversation");
      await conversation.waitFor();
      conversationId = (await conversation.getAttribute("data-conversation-id")) ?? "";
      assert.match(conversationId, /^cnv_/);
      // The page puts the new conversation into its address (shareable, survives a reload).
      await page.waitForURL(new RegExp(`/sandboxes/${sandboxId}/?\\?conversation=${conversationId}$`));
      const run = conversation.getByTestId("chat-run");
      await run.getByTestId("chat-prompt").getByText(PROMPT).waitFor();

      // The first model call's text, as Markdown (bold is bold, not asterisks).
      const first = run.getByTestId("chat-message").first();
      await first.locator("strong", { hasText: "hello.md" }).waitFor({ timeout: FIRST_RUN_TIMEOUT_MS });
      assert.equal(await first.innerText(), "I'll write hello.md for you.");

      // The Write call as a card with its file on the header, its input and output inside.
      const card = run.getByTestId("tool-card");
      await card.waitFor();
      assert.equal(await card.getAttribute("data-tool"), "Write");
      assert.match(await card.innerText(), /Write\s+\/workspace\/hello\.md/);
      await run.locator("[data-testid=tool-card][data-state=done]").waitFor();
      await card.getByRole("button", { expanded: false }).click();
      await card.getByText('"file_path": "/workspace/hello.md"').waitFor();
      await card.getByTestId("tool-output").waitFor();

      // The file's diff: a new file, every line added.
      const diff = run.getByTestId("file-diff");
      await diff.waitFor();
      assert.equal(await diff.getAttribute("data-path"), "/workspace/hello.md");
      const added = await diff.locator('[data-line="add"]').allInnerTexts();
      assert.deepEqual(added, ["+# Hello", "+", "+Written by the agent."]);
      assert.match(await diff.getByLabel("3 lines added").innerText(), /\+3/);

      // Still running (the next model call is held): the composer says a message would wait.
      await run.locator("[data-testid=run-status][data-status=running]").waitFor();
      await page.getByRole("button", { name: "Cancel run" }).waitFor();
      await page
        .getByTestId("composer-note")
        .getByText(/will run after the current turn/)
        .waitFor();
      await page.screenshot({ path: "/tmp/outpost-ui-chat-running.png" });

      held.open();
      await run.getByTestId("chat-message").filter({ hasText: "now greets the reader" }).locator("code", { hasText: "hello.md" }).waitFor();
      await run.locator("[data-testid=run-status][data-status=succeeded]").waitFor();
      assert.equal(await page.getByRole("button", { name: "Cancel run" }).count(), 0);
      assert.match(await run.getByTestId("run-usage").innerText(), /\d[\d,.]* in · \d[\d,.]* out/);
      // Each text block shows once: the streamed pieces were replaced by the whole message.
      assert.deepEqual(await run.getByTestId("chat-message").allInnerTexts(), ["I'll write hello.md for you.", "Done: hello.md now greets the reader."]);
      await page.getByTestId("conversation-item").filter({ hasText: PROMPT }).waitFor();
      await page.screenshot({ path: "/tmp/outpost-ui-chat.png" });
    },
    FIRST_RUN_TIMEOUT_MS + 60_000,
  );

  uiTest("the file the agent wrote is in the Files tab", async () => {
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByRole("table", { name: "Contents of /workspace" }).waitFor();
    await page.locator('tr[data-name="hello.md"]').waitFor();
    const stored = await fetch(`${server.url}/api/v1/sandboxes/${sandboxId}/files/content?path=${encodeURIComponent("/workspace/hello.md")}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(await stored.text(), FILE_CONTENT);
  });

  uiTest("a follow-up is a second turn of the same conversation", async () => {
    stub.queue({ blocks: [{ text: "It has **three** lines." }] });
    await page.getByRole("tab", { name: "Chat" }).click();
    await page.getByTestId("chat-input").fill("How long is it?");
    await page.getByRole("button", { name: "Send" }).click();
    const second = page.getByTestId("chat-run").nth(1);
    await second.getByTestId("chat-prompt").getByText("How long is it?").waitFor();
    await second.locator("strong", { hasText: "three" }).waitFor();
    await second.locator("[data-testid=run-status][data-status=succeeded]").waitFor();
    assert.equal(await page.getByTestId("chat-run").count(), 2);
    // The reload replays the whole conversation from the server.
    await page.reload();
    await page.getByTestId("chat-run").nth(1).locator("strong", { hasText: "three" }).waitFor();
    assert.equal(await page.getByTestId("tool-card").count(), 1);
    assert.equal(await page.getByTestId("file-diff").count(), 1);
  });

  uiTest("the project page lists the conversation and links to it; its Agent tab saves the settings", async () => {
    await page.goto(`${server.url}/projects/${projectId}`);
    const item = page.getByTestId("project-conversation").filter({ hasText: PROMPT });
    await item.waitFor();
    await page.screenshot({ path: "/tmp/outpost-ui-chat-project.png" });
    await item.getByRole("link").click();
    await page.locator(`[data-testid=conversation][data-conversation-id=${conversationId}]`).waitFor();
    await page.getByRole("tab", { name: "Chat", selected: true }).waitFor();

    await page.goto(`${server.url}/projects/${projectId}/agent`);
    await page.getByRole("heading", { name: "Agent runs" }).waitFor();
    await page.getByText("Ask for approval").click();
    await page.getByLabel("Stall timeout").fill("120");
    await page.getByRole("button", { name: "Save agent settings" }).click();
    await page.getByText("Agent settings saved").waitFor();
    await page.screenshot({ path: "/tmp/outpost-ui-chat-agent-settings.png" });
    const stored = await apiJson<{ agent: { permissionMode: string; limits: { stallTimeoutSec: number } } }>(server, "GET", `/api/v1/projects/${projectId}`);
    assert.equal(stored.body.agent.permissionMode, "approve");
    assert.equal(stored.body.agent.limits.stallTimeoutSec, 120);
  });

  uiTest("in approve mode a matching tool call waits on an approval card until Approve is clicked", async () => {
    const rules = await apiJson(server, "PATCH", `/api/v1/projects/${projectId}`, { agent: { permissionMode: "approve", approvalRules: ["Write"] } });
    assert.equal(rules.status, 200, JSON.stringify(rules.body));
    stub.queue(
      { blocks: [{ tool: "Write", input: { file_path: "/workspace/approved.txt", content: "approved\n" } }] },
      { blocks: [{ text: "Wrote approved.txt." }] },
    );
    await page.goto(`${server.url}/sandboxes/${sandboxId}/chat?conversation=${conversationId}`);
    await page.getByTestId("chat-input").fill("Write approved.txt");
    await page.getByRole("button", { name: "Send" }).click();
    const third = page.getByTestId("chat-run").nth(2);
    const approval = third.locator("[data-testid=approval-card][data-decision=pending]");
    await approval.getByText("/workspace/approved.txt").waitFor();
    await third.locator("[data-testid=run-status][data-status=waiting]").waitFor();
    await page.screenshot({ path: "/tmp/outpost-ui-chat-approval.png" });
    await approval.getByRole("button", { name: "Approve" }).click();
    await third.locator("[data-testid=approval-card][data-decision=allow]").waitFor();
    await third.getByTestId("chat-message").getByText("Wrote approved.txt.").waitFor();
    await third.locator("[data-testid=run-status][data-status=succeeded]").waitFor();
    const stored = await fetch(`${server.url}/api/v1/sandboxes/${sandboxId}/files/content?path=${encodeURIComponent("/workspace/approved.txt")}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(await stored.text(), "approved\n");
  });

  test("no page threw an uncaught error", () => {
    assert.deepEqual(pageErrors, []);
  });
});
