// The project's Environment tab in a real headless Chromium against a real `outpost serve`
// (root here, so it can build images): a person makes an environment from the tab (image
// host, a setup script and env), chooses it for the project and finds it chosen after a
// reload; "Build now" ends ready with its log shown; an image that is not there fails its
// build with the log saying why; a name that is not a DNS label is refused with the API's
// message and hint; a warm pool of 1 set in the tab shows its sandbox ready without a reload,
// and set back to 0 shows it gone. No Debian image is built here.
// Screenshots land in /tmp/outpost-ui-environment*.png (-failure-*.png when a step fails).
// Needs Debian's `chromium` and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import type { Browser, Page } from "playwright-core";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { getOk, uiTestWith } from "../helpers/ui-test.ts";

const PROJECT = "env-ui";
const ENVIRONMENT = "webtools";

let server: OutpostServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

interface Environment {
  name: string;
  image: string;
  setup: string | null;
  setupEnv: Record<string, string>;
  projects: string[];
  poolSize: number;
  warm: { ready: number; starting: number };
}

/** How long a warm pool's sandbox may take to start (bubblewrap and the supervisor). */
const POOL_TIMEOUT_MS = 90_000;

before(async () => {
  // Pools topped up every second rather than every 10: the pool test waits for the refill.
  [server, browser] = await Promise.all([startOutpost({ env: { OUTPOST_POOL_CHECK_MS: "1000" } }), launchChromium()]);
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const project = await apiJson(server, "POST", "/api/v1/projects", { name: PROJECT });
  assert.equal(project.status, 201, JSON.stringify(project.body));
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const uiTest = uiTestWith(() => page, "environment-");
const chooser = () => page.getByRole("combobox", { name: "Environment of this project" });
const chosen = () => page.getByTestId("environment");
/** Waits until the chooser shows `label` (it follows the environments list, read after a create or a reload). */
async function chooserShows(label: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let shown = "";
  while (Date.now() < deadline) {
    shown = await chooser().inputValue();
    if (shown === label) return;
    await page.waitForTimeout(50);
  }
  assert.equal(shown, label);
}

describe("the Environment tab", () => {
  uiTest("a new environment made in the tab and chosen for the project is still chosen after a reload", async () => {
    await page.goto(server.loginUrl);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.goto(`${server.url}/projects/${PROJECT}/environment`);
    await page.getByRole("tab", { name: "Environment", selected: true }).waitFor();
    await chooserShows("none: host /usr");

    await page.getByRole("button", { name: "New environment" }).click();
    const form = page.getByRole("form", { name: "New environment" });
    await form.getByLabel("Name").fill(ENVIRONMENT);
    assert.equal(await form.getByLabel("Image", { exact: true }).inputValue(), "host");
    await form.getByLabel("Setup script").fill("echo hello from setup\ntouch /opt/ready");
    await form.getByLabel("Setup env").fill("MODE=ui");
    await form.getByRole("button", { name: "Create environment" }).click();
    await page.getByText(`Environment ${ENVIRONMENT} created`).waitFor();

    // Made, not yet the project's: the choice waits for "Use for this project".
    await chooserShows(`${ENVIRONMENT} (host)`);
    const made = await getOk<Environment>(server, `/api/v1/environments/${ENVIRONMENT}`);
    assert.deepEqual([made.image, made.setup, made.setupEnv, made.projects], ["host", "echo hello from setup\ntouch /opt/ready", { MODE: "ui" }, []]);
    assert.equal((await getOk<{ environment: string | null }>(server, `/api/v1/projects/${PROJECT}`)).environment, null);

    await page.getByRole("button", { name: "Use for this project" }).click();
    await page.getByText("Environment saved").waitFor();
    assert.equal((await getOk<{ environment: string | null }>(server, `/api/v1/projects/${PROJECT}`)).environment, ENVIRONMENT);

    await page.reload();
    await chosen().waitFor();
    await chooserShows(`${ENVIRONMENT} (host)`);
    assert.equal(await chosen().getByLabel("Setup script").inputValue(), "echo hello from setup\ntouch /opt/ready");
    assert.equal(await chosen().getByLabel("Setup env").inputValue(), "MODE=ui");
    await chosen().getByTestId("environment-projects").getByText(PROJECT, { exact: true }).waitFor();
    await chosen().getByText("Never built.").waitFor();
  });

  uiTest("Build now ends ready and shows the build's log and the cache state", async () => {
    assert.equal(await chosen().getByTestId("environment-cache").getAttribute("data-cache"), "none", "the host's /usr: nothing to build");
    await chosen().getByRole("button", { name: "Build now" }).click();
    await chosen().locator('[data-testid=environment-build-state][data-state="ready"]').waitFor();
    const log = chosen().getByTestId("environment-build-log");
    await log.waitFor({ state: "visible" });
    await chosen().getByText("cached: nothing had to be made").waitFor();
    const latest = await getOk<{ state: string; log: string }>(server, `/api/v1/environments/${ENVIRONMENT}/builds/latest`);
    assert.equal(latest.state, "ready");
    assert.equal(await log.textContent(), latest.log || "(no output)", "the log as the server keeps it");
    await page.screenshot({ path: "/tmp/outpost-ui-environment-built.png", fullPage: true });
  });

  uiTest("an image that is not there: saved, then its build fails with the log saying why", async () => {
    const form = page.getByRole("form", { name: `Environment ${ENVIRONMENT}` });
    await form.getByLabel("Image", { exact: true }).fill("oci-layout:/nonexistent/layout");
    await form.getByRole("button", { name: "Save environment" }).click();
    // Stale: saved, and the tab read it again (nothing built for this image yet).
    await chosen().locator('[data-testid=environment-cache][data-cache="stale"]').waitFor();
    assert.equal((await getOk<Environment>(server, `/api/v1/environments/${ENVIRONMENT}`)).image, "oci-layout:/nonexistent/layout");

    await chosen().getByRole("button", { name: "Build now" }).click();
    await chosen().locator('[data-testid=environment-build-state][data-state="failed"]').waitFor();
    const latest = await getOk<{ state: string; log: string; error: string }>(server, `/api/v1/environments/${ENVIRONMENT}/builds/latest`);
    assert.equal(latest.state, "failed");
    assert.match((await chosen().getByTestId("environment-build-log").textContent()) ?? "", /build failed: /);
    assert.equal(await chosen().getByTestId("environment-build-error").textContent(), latest.error);
    await page.screenshot({ path: "/tmp/outpost-ui-environment-failed.png", fullPage: true });
  });

  uiTest("a name that is not a DNS label is refused with the API's message and hint; nothing is made", async () => {
    await page.getByRole("button", { name: "New environment" }).click();
    const form = page.getByRole("form", { name: "New environment" });
    await form.getByLabel("Name").fill("Not_DNS");
    await form.getByRole("button", { name: "Create environment" }).click();
    const alert = form.getByRole("alert");
    await alert.getByText("No environment was made").waitFor();
    await alert.getByText(/environment name/).waitFor();
    await alert.getByText("Fix the request (details.issues names each bad field); the API reference is at /docs.").waitFor();
    await alert.getByText("VALIDATION_FAILED").waitFor();
    const listed = await getOk<{ items: { name: string }[] }>(server, "/api/v1/environments");
    assert.deepEqual(
      listed.items.map((e) => e.name),
      [ENVIRONMENT],
    );
    assert.deepEqual(pageErrors, []);
  });

  uiTest("a warm pool of 1 on a host environment shows its sandbox ready as it starts, and gone once set back to 0", async () => {
    // The form the last test left open goes; the chosen environment's form shows again.
    await page.goto(`${server.url}/projects/${PROJECT}/environment`);
    await chosen().waitFor();
    const form = page.getByRole("form", { name: `Environment ${ENVIRONMENT}` });
    assert.equal(await chosen().getByTestId("environment-warm").count(), 0, "no pool kept: nothing said about one");
    await form.getByLabel("Image", { exact: true }).fill("host");
    await form.getByLabel("Warm pool", { exact: true }).fill("1");
    await form.getByRole("button", { name: "Save environment" }).click();
    await page.getByText("Environment saved").first().waitFor();
    assert.deepEqual(await getOk<Environment>(server, `/api/v1/environments/${ENVIRONMENT}`).then((e) => [e.image, e.poolSize]), ["host", 1]);

    // The pool fills in the background: the tab reads it again by itself until it is ready.
    const warm = chosen().getByTestId("environment-warm");
    await chosen().getByText("Warm pool: 1 of 1 ready", { exact: true }).waitFor({ timeout: POOL_TIMEOUT_MS });
    assert.equal(await warm.getAttribute("data-ready"), "1");
    assert.deepEqual((await getOk<Environment>(server, `/api/v1/environments/${ENVIRONMENT}`)).warm, { ready: 1, starting: 0 });
    await page.screenshot({ path: "/tmp/outpost-ui-environment-warm.png", fullPage: true });

    // Back to 0 (so no sandbox is left running): its sandbox is stopped and the line goes.
    await form.getByLabel("Warm pool", { exact: true }).fill("0");
    await form.getByRole("button", { name: "Save environment" }).click();
    await warm.waitFor({ state: "detached", timeout: POOL_TIMEOUT_MS });
    const after = await getOk<Environment>(server, `/api/v1/environments/${ENVIRONMENT}`);
    assert.deepEqual([after.poolSize, after.warm], [0, { ready: 0, starting: 0 }]);
    assert.deepEqual(pageErrors, []);
  });
});
