// Idle stop in the UI, in a real headless Chromium against a real `outpost serve` whose idle
// check runs every 200 ms, with real sandboxes: a sandbox stopped for idleness says so on its
// card; the project's "Idle stop" card sets the timeout (0 = never); a request to the stopped
// sandbox shows it "waking" until it runs. The wake is held on purpose, deterministically:
// the installation may run one sandbox, and another one holds that place until the test
// deletes it, so "waking" stays on screen for as long as the test needs to see it.
// Screenshots land in /tmp/outpost-ui-idle*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium`, bubblewrap, and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { deleteAndWait, deleteEverySandbox, exec, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { getOk, uiTestWith } from "../helpers/ui-test.ts";

const SANDBOX_TIMEOUT_MS = 3 * 60_000;
const PROJECT = "idle-ui";

let server: OutpostServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];
let sandbox: { id: string; name: string };

before(async () => {
  [server, browser] = await Promise.all([startOutpost({ env: { OUTPOST_IDLE_CHECK_MS: "200", OUTPOST_MAX_SANDBOXES: "1" } }), launchChromium()]);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  for (const [name, idleTimeoutSeconds] of [
    [PROJECT, 1],
    ["hog", 0],
  ] as const) {
    const project = await apiJson(server, "POST", "/api/v1/projects", { name, idleTimeoutSeconds });
    assert.equal(project.status, 201, JSON.stringify(project.body));
  }
  sandbox = await runningSandbox(server, PROJECT, SANDBOX_TIMEOUT_MS);
});

after(async () => {
  await browser?.close();
  if (server) {
    await deleteEverySandbox(server).catch(() => {});
    await server.stop();
  }
});

const uiTest = uiTestWith(() => page, "idle-");
const card = () => page.locator(`section[aria-label="Sandbox ${sandbox.name}"]`);

describe("idle stop in the UI", () => {
  uiTest("a sandbox stopped for idleness says so on its card", async () => {
    const stopped = await waitForPhase(server, sandbox.id, ["stopped"], SANDBOX_TIMEOUT_MS);
    assert.equal(stopped.stoppedReason, "idle");
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/projects/${PROJECT}`);
    await card().locator('[data-phase="stopped"]').waitFor();
    await card().getByText("stopped while idle: the next request wakes it").waitFor();
  });

  uiTest("the Idle stop card sets the project's timeout; 0 means never", async () => {
    const form = page.getByRole("form", { name: "Idle stop" });
    const input = form.getByLabel("Stop idle sandboxes after (seconds)");
    assert.equal(await input.inputValue(), "1");
    await form.getByText("0 = never").waitFor();
    await input.fill("0");
    await form.getByRole("button", { name: "Save" }).click();
    await page.getByText("Idle stop saved").waitFor();
    assert.equal((await getOk<{ idleTimeoutSeconds: number }>(server, `/api/v1/projects/${PROJECT}`)).idleTimeoutSeconds, 0);
  });

  uiTest(
    "a request to it shows it waking until it runs",
    async () => {
      // The one place the installation has, taken until the test frees it.
      const hog = await runningSandbox(server, "hog", SANDBOX_TIMEOUT_MS);
      const woke = exec(server, sandbox.id, "echo woke");
      // Awaited below; a failure before that must not go unhandled.
      woke.catch(() => {});
      await card().locator("[data-waking]").waitFor();
      assert.equal((await card().locator("[data-waking]").textContent())?.trim(), "waking");
      await page.screenshot({ path: "/tmp/outpost-ui-idle-waking.png", fullPage: true });
      await deleteAndWait(server, hog.id);
      assert.equal((await woke).stdout, "woke\n");
      await card().locator('[data-phase="running"]:not([data-waking])').waitFor();
      assert.deepEqual(pageErrors, []);
    },
    SANDBOX_TIMEOUT_MS,
  );
});
