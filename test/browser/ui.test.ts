// The web UI in a real headless Chromium against a real `outpost serve` and real sandboxes,
// the way a person uses it: sign in with the printed login link, create a project through
// the dialog, start a sandbox and watch its stages finish, see the activity timeline move,
// set a secret and find it masked; in the sandbox, type into a terminal and see it answer,
// resize the window and see the shell's size follow, reload and find the same shell with its
// screen, ask for a root terminal on the host's /usr and be told why not (with the API's hint),
// upload a file and see it in the Files tree, start a web server in the terminal and
// open its preview on its own origin (and share it); survive the server dropping away,
// delete the project by typing its name, and meet the sign-in page when the session is gone.
// Screenshots of each page land in /tmp/outpost-ui-*.png (and -failure-*.png when a step
// fails). Needs Debian's `chromium`, bubblewrap, and `npm run build` (which builds the UI).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { ERRORS } from "../../src/domain/error-registry.ts";
import { apiJson, type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";
import { type GitHttpServer, startGitHttpServer } from "../helpers/git-http-server.ts";
import { uiTestWith } from "../helpers/ui-test.ts";

const SANDBOX_TIMEOUT_MS = 90_000;

let server: OutpostServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const pageErrors: string[] = [];
/** A public repository on this machine: the sandbox clones it as it starts. */
let remote: GitHttpServer;
let repoUrl: string;

before(async () => {
  [server, browser, remote] = await Promise.all([startOutpost(), launchChromium(), startGitHttpServer({ open: true })]);
  await remote.createRepo("shop", { "README.md": "# shop\n" });
  repoUrl = remote.url("shop");
  context = await browser.newContext({ viewport: { width: 1366, height: 768 }, colorScheme: "light" });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (error) => pageErrors.push(error.message));
});

after(async () => {
  await browser?.close();
  await remote?.stop();
  // Whatever a failed test left running: the server's sandboxes go with its data dir.
  if (server) {
    const { body } = await apiJson<{ items: { id: string }[] }>(server, "GET", "/api/v1/sandboxes").catch(() => ({ body: { items: [] } }));
    for (const sandbox of body?.items ?? []) await apiJson(server, "DELETE", `/api/v1/sandboxes/${sandbox.id}`).catch(() => {});
    await waitUntil(async () => ((await apiJson<{ items: unknown[] }>(server, "GET", "/api/v1/sandboxes")).body?.items.length ?? 0) === 0, 60_000).catch(
      () => {},
    );
    await server.stop();
  }
});

/**
 * The little of the DOM the page functions below use, typed here: this tsconfig has no DOM
 * lib (it checks Node code). The functions run in the page, where these are the real ones.
 */
interface PageElement {
  innerText: string;
  offsetParent: unknown;
  dataset: Record<string, string | undefined>;
}
interface PageAnimation {
  effect: { getTiming(): { iterations?: number } } | null;
  finished: Promise<unknown>;
}
interface PageGlobals {
  document: {
    querySelector(selector: string): PageElement | null;
    querySelectorAll(selector: string): ArrayLike<PageElement>;
    getAnimations(): PageAnimation[];
  };
}

const shot = (name: string) => page.screenshot({ path: `/tmp/outpost-ui-${name}.png` });

/** Until the page's transitions (a dialog fading in) have ended, for a screenshot of what stays. */
const settled = () =>
  page.evaluate(() =>
    Promise.all(
      (globalThis as unknown as PageGlobals).document
        .getAnimations()
        .filter((animation) => animation.effect?.getTiming().iterations !== Number.POSITIVE_INFINITY)
        .map((animation) => animation.finished.catch(() => undefined)),
    ),
  );

const uiTest = uiTestWith(() => page, "");

/** Polls an API condition (for the test's own checks; the UI itself is awaited by locators). */
async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface ProjectBody {
  id: string;
  name: string;
  repoUrl: string | null;
  env: { name: string; value?: string }[];
  egress: { level: string; allow: { host: string }[] };
}

let project: ProjectBody;
let sandboxName: string;
let sandboxId: string;

/**
 * Waits until the terminal on screen shows a line matching `pattern` (anchored with /m to
 * tell output from the echoed command line), read from xterm.js's rendered rows; answers
 * the match.
 */
async function terminalShows(pattern: RegExp): Promise<string[]> {
  const handle = await page.waitForFunction(
    ({ source, flags }) => {
      const { document } = globalThis as unknown as PageGlobals;
      const rows = Array.from(document.querySelectorAll("[data-testid=terminal] .xterm-rows")).find((el) => el.offsetParent !== null);
      const match = new RegExp(source, flags).exec((rows?.innerText ?? "").replace(/\u00a0/g, " "));
      return match ? [...match] : null;
    },
    { source: pattern.source, flags: pattern.flags },
  );
  return (await handle.jsonValue()) as string[];
}

/** Types a command line into the terminal on screen. */
async function typeLine(line: string): Promise<void> {
  await page.locator("[data-testid=terminal][data-terminal-state=open]:visible .xterm").click();
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}

interface TerminalBody {
  id: string;
  pid: number;
  cols: number;
  rows: number;
}

/** The size the page's terminal has (its element says what xterm.js was fitted to). */
async function terminalSize(): Promise<{ cols: number; rows: number }> {
  const terminal = page.locator("[data-testid=terminal][data-terminal-state=open]:visible");
  return { cols: Number(await terminal.getAttribute("data-cols")), rows: Number(await terminal.getAttribute("data-rows")) };
}

/** Until the server's terminal has the page's size (the resize went through the WebSocket). */
async function serverTerminalSizeIs(tid: string, size: { cols: number; rows: number }): Promise<void> {
  await waitUntil(async () => {
    const { body } = await apiJson<TerminalBody>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals/${tid}`);
    return body.cols === size.cols && body.rows === size.rows;
  }, 20_000);
}

let terminal: TerminalBody;
const UPLOADED = "notes from the browser.txt";
const UPLOADED_TEXT = "uploaded through the Files tab\n";

describe("the web UI", () => {
  uiTest("without a session, / explains how to sign in with a login link", async () => {
    const fresh = await browser.newContext({ viewport: { width: 1366, height: 768 } });
    try {
      const anonymous = await fresh.newPage();
      const response = await anonymous.goto(`${server.url}/`);
      assert.equal(response?.status(), 200, "the UI's page itself is public: it holds no data");
      await anonymous.getByRole("heading", { name: "Sign in to Outpost" }).waitFor();
      // The stylesheet applied (its body rule sets the theme's font; unstyled, it is the browser's serif).
      assert.match(String(await anonymous.evaluate("getComputedStyle(document.body).fontFamily")), /system-ui/);
      assert.ok(await anonymous.getByText("npx outpost login-link").isVisible());
      await anonymous.screenshot({ path: "/tmp/outpost-ui-sign-in.png" });
      assert.equal(await anonymous.getByRole("heading", { name: "Projects", exact: true }).count(), 0);
    } finally {
      await fresh.close();
    }
  });

  uiTest("the login link signs the browser in and lands on the projects page", async () => {
    await page.goto(server.loginUrl);
    assert.equal(page.url(), `${server.url}/`);
    await page.getByRole("heading", { name: "Projects", exact: true }).waitFor();
    await page.getByText("Signed in as admin").waitFor();
    await page.getByText("No projects yet").waitFor();
    await shot("projects-empty");
  });

  uiTest("the create dialog checks the name as it is typed and creates the project with its variable and egress level", async () => {
    await page.getByRole("button", { name: "New project" }).click();
    const dialog = page.getByRole("dialog", { name: "New project" });
    await dialog.waitFor();
    const create = dialog.getByRole("button", { name: "Create project" });

    // The server's rules, live: upper case is refused before anything is sent.
    await dialog.getByLabel("Name").fill("Shop");
    await dialog.getByText("Name may contain only lowercase letters").waitFor();
    assert.equal(await create.isDisabled(), true);
    await dialog.getByLabel("Name").fill("shop-ui");
    assert.equal(await dialog.getByText("Name may contain only lowercase letters").count(), 0);

    await dialog.getByLabel("Repository URL").fill("file:///etc");
    await dialog.getByText(/transport 'file' is not allowed/).waitFor();
    await dialog.getByLabel("Repository URL").fill(repoUrl);

    await dialog.getByRole("button", { name: "Add variable" }).click();
    await dialog.getByLabel("Variable 1 name").fill("GREETING");
    await dialog.getByLabel("Variable 1 value").fill("hello from the ui");

    await dialog.getByRole("combobox", { name: "Egress" }).click();
    await page.getByRole("option", { name: "Custom" }).click();
    await dialog.getByLabel("Allowed domains").fill("api.example.com");
    await dialog.getByLabel("Allowed domains").press("Enter");
    await shot("create-dialog");

    await create.click();
    await page.getByRole("heading", { name: "shop-ui", level: 1 }).waitFor();
    assert.match(page.url(), /\/projects\/prj_[a-z0-9]+$/);

    const id = page.url().split("/").at(-1)!;
    const stored = await apiJson<ProjectBody>(server, "GET", `/api/v1/projects/${id}?reveal=true`);
    assert.equal(stored.status, 200);
    project = stored.body;
    assert.equal(project.repoUrl, repoUrl);
    assert.deepEqual(project.env, [{ name: "GREETING", value: "hello from the ui" }]);
    assert.equal(project.egress.level, "custom");
    assert.deepEqual(
      project.egress.allow.map((r) => r.host),
      ["api.example.com"],
    );
  });

  uiTest("a new sandbox shows its provisioning stages live until it runs", async () => {
    await page.getByRole("button", { name: "New sandbox" }).click();
    const card = page.locator("section[aria-label^='Sandbox shop-ui-']");
    await card.waitFor();
    sandboxName = ((await card.getAttribute("aria-label")) ?? "").replace(/^Sandbox /, "");
    assert.match(sandboxName, /^shop-ui-[a-z0-9]{6}$/);

    // The stages come from the events stream, without a reload.
    await card.locator("[data-phase='running']").waitFor({ timeout: SANDBOX_TIMEOUT_MS });
    const stages = card.getByRole("table", { name: "Provisioning stages" }).getByRole("row");
    const states = await stages.evaluateAll((rows) => rows.map((row) => [row.getAttribute("data-stage"), row.getAttribute("data-state")]));
    assert.ok(states.length >= 2, `stages shown: ${JSON.stringify(states)}`);
    assert.deepEqual(
      states.filter(([, state]) => state !== "done"),
      [],
      "every stage is done",
    );
    assert.equal(states.at(-1)?.[0], "ready");
    // Each finished stage shows how long it took.
    assert.match((await stages.first().innerText()).replace(/\s+/g, " "), /done \d+(\.\d)? s/);
    await shot("project");

    // The projects list shows the project with its sandbox's phase and its last activity.
    await page.getByRole("link", { name: "← Projects" }).click();
    const row = page.getByRole("row", { name: /shop-ui/ });
    await row.locator("[data-phase='running']").waitFor();
    assert.ok((await row.innerText()).includes(repoUrl.replace(/^http:\/\//, "")), await row.innerText());
    assert.match(await row.innerText(), /now|seconds? ago/);
    await page.getByRole("searchbox", { name: "Search projects" }).fill("nothing-like-it");
    await page.getByText("No project matches").waitFor();
    await page.getByRole("searchbox", { name: "Search projects" }).fill("shop");
    await shot("projects");
    await row.getByRole("link", { name: "shop-ui" }).click();
    await page.getByRole("heading", { name: "shop-ui", level: 1 }).waitFor();
  });

  uiTest("the activity timeline shows the project's events as they happen", async () => {
    const timeline = page.getByTestId("activity");
    await timeline.getByText("Project created").waitFor();
    await timeline.getByText(`${sandboxName} is running`).waitFor();
    // A change made elsewhere (here: the API) appears without a reload.
    const set = await apiJson(server, "PATCH", `/api/v1/projects/${project.id}`, { env: { FROM_API: "1" } });
    assert.equal(set.status, 200);
    await timeline.getByText("Project changed: env").waitFor();
  });

  uiTest("a secret set in the Variables tab is listed masked, and env values show only when asked", async () => {
    await page.getByRole("tab", { name: "Variables" }).click();
    assert.match(page.url(), /\/variables$/);
    const form = page.locator("form", { has: page.getByRole("heading", { name: "Set a variable" }) });
    await form.getByLabel("Name").fill("PAYMENT_TOKEN");
    await form.getByLabel("Value").fill("s3cret-value-never-shown");
    // Kind defaults to secret.
    await form.getByRole("button", { name: "Set variable" }).click();
    const row = page.locator("tr[data-variable='PAYMENT_TOKEN']");
    await row.waitFor();
    assert.match(await row.innerText(), /secret/i);
    assert.equal(await page.getByTestId("value-PAYMENT_TOKEN").innerText(), "••••••••");
    assert.equal(await page.getByTestId("value-GREETING").innerText(), "••••••••");

    await page.getByLabel("Show env values").check();
    await page.getByTestId("value-GREETING").getByText("hello from the ui").waitFor();
    assert.equal(await page.getByTestId("value-PAYMENT_TOKEN").innerText(), "••••••••", "a secret's value is never shown");
    assert.ok(!(await page.content()).includes("s3cret-value-never-shown"), "the secret's value is nowhere in the page");
    await shot("variables");

    const listed = await apiJson<{ items: { name: string; kind: string }[] }>(server, "GET", `/api/v1/projects/${project.id}/secrets`);
    assert.equal(listed.body.items.find((v) => v.name === "PAYMENT_TOKEN")?.kind, "secret");
  });

  uiTest("the settings tabs show egress, usage and members; the theme switches to dark", async () => {
    await page.getByRole("tab", { name: "Egress" }).click();
    await page.getByRole("heading", { name: "Egress policy" }).waitFor();
    assert.equal(await page.getByRole("combobox", { name: "Level" }).inputValue(), "Custom");
    await page.getByRole("heading", { name: "Recent connections" }).waitFor();
    await shot("egress");

    await page.getByRole("tab", { name: "Model usage" }).click();
    await page.getByText("Tokens used").waitFor();
    await shot("usage");

    await page.getByRole("tab", { name: "Members" }).click();
    await page.getByRole("table", { name: "Members" }).getByText("admin (you)").waitFor();
    await shot("members");

    await page.getByRole("button", { name: /^Color theme/ }).click();
    await page.getByRole("menuitem", { name: "Dark" }).click();
    assert.equal(await page.locator("html").getAttribute("data-mantine-color-scheme"), "dark");
    await page.getByRole("tab", { name: "Sandboxes" }).click();
    await page.getByRole("table", { name: "Provisioning stages" }).waitFor();
    await shot("project-dark");
  });

  uiTest("a sandbox opens on its own page with Terminal, Files and Preview tabs", async () => {
    await page.getByRole("link", { name: "Open", exact: true }).first().click();
    await page.getByRole("heading", { name: sandboxName }).waitFor();
    for (const name of ["Chat", "Terminal", "Files", "Preview"]) await page.getByRole("tab", { name }).waitFor();
    // Chat (test/browser/chat.test.ts) is the first tab, shown by default.
    await page.getByRole("tab", { name: "Chat", selected: true }).waitFor();
    await page.locator(".mantine-Skeleton-root").first().waitFor({ state: "detached" });
    await shot("sandbox-dark");
    await page.getByRole("tab", { name: "Files" }).click();
    assert.match(page.url(), /\/sandboxes\/sbx_[a-z0-9]+\/files$/);
    await page.getByRole("tab", { name: "Files", selected: true }).waitFor();
    await page.getByRole("button", { name: /^Color theme/ }).click();
    await page.getByRole("menuitem", { name: "Light" }).click();
    await page.locator(".mantine-Skeleton-root").first().waitFor({ state: "detached" });
    await shot("sandbox");
  });

  uiTest("the Terminal tab opens a shell: `echo hi` answers hi, and `stty size` follows the window", async () => {
    sandboxId = /\/sandboxes\/(sbx_[a-z0-9]+)\//.exec(page.url())?.[1] ?? "";
    assert.match(sandboxId, /^sbx_/);
    await page.getByRole("tab", { name: "Terminal", exact: true }).click();
    const view = page.locator("[data-testid=terminal][data-terminal-state=open]");
    await view.waitFor();
    const tid = (await view.getAttribute("data-terminal-id")) ?? "";
    assert.match(tid, /^trm_[a-z0-9]{12}$/);
    const listed = await apiJson<{ items: TerminalBody[] }>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals`);
    assert.deepEqual(
      listed.body.items.map((t) => t.id),
      [tid],
      "opening the tab opened one shell",
    );
    terminal = listed.body.items[0] as TerminalBody;

    await typeLine("echo hi");
    await terminalShows(/^hi\s*$/m);
    await shot("terminal");

    const wide = await terminalSize();
    await serverTerminalSizeIs(tid, wide);
    await typeLine("echo size-1 $(stty size)");
    const [, rows1, cols1] = await terminalShows(/^size-1 (\d+) (\d+)\s*$/m);
    assert.deepEqual([Number(rows1), Number(cols1)], [wide.rows, wide.cols], "the shell's size is the terminal's on the page");

    // A smaller window: the terminal refits, the PTY follows, and the shell sees it.
    await page.setViewportSize({ width: 1024, height: 600 });
    await page.waitForFunction(
      (cols) => (globalThis as unknown as PageGlobals).document.querySelector("[data-testid=terminal]")?.dataset.cols !== String(cols),
      wide.cols,
    );
    const narrow = await terminalSize();
    assert.ok(narrow.cols < wide.cols && narrow.rows < wide.rows, `${JSON.stringify(narrow)} is smaller than ${JSON.stringify(wide)}`);
    await serverTerminalSizeIs(tid, narrow);
    await typeLine("echo size-2 $(stty size)");
    const [, rows2, cols2] = await terminalShows(/^size-2 (\d+) (\d+)\s*$/m);
    assert.deepEqual([Number(rows2), Number(cols2)], [narrow.rows, narrow.cols]);
    await shot("terminal-resized");
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.waitForFunction(
      (cols) => (globalThis as unknown as PageGlobals).document.querySelector("[data-testid=terminal]")?.dataset.cols === String(cols),
      wide.cols,
    );
  });

  uiTest("a reload finds the same shell with its screen, and it goes on", async () => {
    await typeLine("echo before-$((40+2))-reload");
    await terminalShows(/^before-42-reload\s*$/m);
    await page.reload();
    const view = page.locator("[data-testid=terminal][data-terminal-state=open]");
    await view.waitFor();
    assert.equal(await view.getAttribute("data-terminal-id"), terminal.id, "the page reattached to the same terminal");
    // The screen as it was, restored by the server (nothing printed it again).
    await terminalShows(/^before-42-reload\s*$/m);
    await terminalShows(/^size-2 \d+ \d+\s*$/m);
    await typeLine("echo after-$((1+1))-reload $$");
    await terminalShows(new RegExp(`^after-2-reload ${terminal.pid}\\s*$`, "m"));
    const listed = await apiJson<{ items: TerminalBody[] }>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals`);
    assert.deepEqual(
      listed.body.items.map((t) => [t.id, t.pid]),
      [[terminal.id, terminal.pid]],
      "the same shell, and no second one",
    );
    await shot("terminal-reloaded");
  });

  uiTest("a second shell opens beside the first; its exit is shown, and closing it leaves the first", async () => {
    await page.getByRole("button", { name: "New terminal" }).click();
    await page.getByRole("tab", { name: "Shell 2", selected: true }).waitFor();
    const second = page.locator("[data-testid=terminal][data-terminal-state=open]:visible");
    await second.waitFor();
    const secondId = await second.getAttribute("data-terminal-id");
    assert.notEqual(secondId, terminal.id);
    const listed = await apiJson<{ items: TerminalBody[] }>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals`);
    assert.deepEqual(listed.body.items.map((t) => t.id).sort(), [terminal.id, secondId].sort());

    await typeLine("exit 3");
    const ended = page.locator("[data-testid=terminal][data-terminal-state=exited]:visible");
    await ended.getByText("The shell exited with code 3.").waitFor();
    await shot("terminal-exited");
    const after = await apiJson<{ items: TerminalBody[] }>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals`);
    assert.deepEqual(
      after.body.items.map((t) => t.id),
      [terminal.id],
      "the shell that exited is gone; the first one runs on",
    );
    await ended.getByRole("button", { name: "Close" }).click();
    assert.equal(await page.getByRole("tab", { name: "Shell 2" }).count(), 0);
    await page.getByRole("tab", { name: "Shell 1", selected: true }).waitFor();
    await terminalShows(/^after-2-reload \d+\s*$/m);
  });

  uiTest("a root terminal in a sandbox on the host's /usr is refused with the API's hint, and no shell is opened", async () => {
    await page.getByRole("button", { name: "New root terminal" }).click();
    const refused = page.getByRole("alert").filter({ hasText: "No root terminal was opened" });
    await refused.waitFor();
    await refused.getByText(ERRORS.ROOT_UNAVAILABLE.hint, { exact: true }).waitFor();
    await refused.getByText("ROOT_UNAVAILABLE", { exact: true }).waitFor();
    await shot("terminal-root-refused");
    assert.equal(await page.getByRole("tab", { name: /^Root shell/ }).count(), 0);
    const listed = await apiJson<{ items: TerminalBody[] }>(server, "GET", `/api/v1/sandboxes/${sandboxId}/terminals`);
    assert.deepEqual(
      listed.body.items.map((t) => t.id),
      [terminal.id],
      "no shell was opened",
    );
    // Dismissed, the first shell is as it was.
    await refused.getByRole("button", { name: "Dismiss" }).click();
    await refused.waitFor({ state: "detached" });
    await page.getByRole("tab", { name: "Shell 1", selected: true }).waitFor();
    await terminalShows(/^after-2-reload \d+\s*$/m);
  });

  uiTest("an uploaded file appears in the Files tree, and so does one the shell writes", async () => {
    await page.getByRole("tab", { name: "Files" }).click();
    await page.getByRole("table", { name: "Contents of /workspace" }).waitFor();
    await page.getByTestId("upload-input").setInputFiles({ name: UPLOADED, mimeType: "text/plain", buffer: Buffer.from(UPLOADED_TEXT) });
    const row = page.locator(`tr[data-name="${UPLOADED}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(`\\b${UPLOADED_TEXT.length} B\\b`), "its size is listed");
    const stored = await fetch(`${server.url}/api/v1/sandboxes/${sandboxId}/files/content?path=${encodeURIComponent(`/workspace/${UPLOADED}`)}`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    assert.equal(await stored.text(), UPLOADED_TEXT);

    // The folder's watch keeps the list current: a file made in the sandbox shows up by itself.
    const made = await apiJson(server, "POST", `/api/v1/sandboxes/${sandboxId}/exec`, {
      command: ["sh", "-c", "mkdir -p /workspace/site && echo made > /workspace/site/index.txt"],
    });
    assert.equal(made.status, 200);
    await page.locator('tr[data-name="site"][data-type="dir"]').waitFor();

    await row.getByRole("button", { name: UPLOADED, exact: true }).click();
    const viewer = page.getByRole("dialog", { name: UPLOADED });
    await viewer.getByTestId("file-text").getByText("uploaded through the Files tab").waitFor();
    await settled();
    await shot("files-viewer");
    await page.keyboard.press("Escape");
    await viewer.waitFor({ state: "hidden" });

    await page.getByRole("button", { name: "site/", exact: true }).click();
    await page.getByRole("table", { name: "Contents of /workspace/site" }).locator('tr[data-name="index.txt"]').waitFor();
    await page.getByRole("navigation", { name: "Folder path" }).getByRole("button", { name: "/workspace" }).click();
    await page.locator(`tr[data-name="${UPLOADED}"]`).waitFor();
    await shot("files");
  });

  uiTest("a server started in the terminal appears in the Preview tab, and its preview opens on its own origin", async () => {
    // Other tabs shown meanwhile did not cost the terminal its connection.
    const sockets: string[] = [];
    const record = (socket: { url(): string }) => sockets.push(socket.url());
    page.on("websocket", record);
    await page.getByRole("tab", { name: "Terminal", exact: true }).click();
    await typeLine("python3 -m http.server 8000");
    await terminalShows(/Serving HTTP on \S+ port 8000/);
    page.off("websocket", record);
    assert.deepEqual(sockets, [], "the terminal's WebSocket stayed open while the Files tab showed");

    await page.getByRole("tab", { name: "Preview" }).click();
    const port = page.locator("tr[data-port='8000']");
    await port.waitFor();
    assert.match(await port.innerText(), /python3/);
    await shot("preview");

    const [preview] = await Promise.all([context.waitForEvent("page"), port.getByRole("link", { name: /Open preview/ }).click()]);
    try {
      await preview.getByRole("heading", { name: "Directory listing for /" }).waitFor();
      assert.equal(new URL(preview.url()).origin, `http://8000-${sandboxName}.localhost:${server.port}`, "served from the preview's own origin");
      await preview.getByRole("link", { name: UPLOADED }).waitFor();
      await preview.screenshot({ path: "/tmp/outpost-ui-preview-page.png" });
    } finally {
      await preview.close();
    }

    // A share link opens the preview for someone without an account, until it is revoked.
    await port.getByRole("button", { name: "Share link" }).click();
    const dialog = page.getByRole("dialog", { name: "Share the preview of port 8000" });
    await dialog.getByRole("button", { name: "Create link" }).click();
    const url = await dialog.getByRole("textbox", { name: "Share link" }).inputValue();
    assert.match(url, new RegExp(`^http://8000-${sandboxName}\\.localhost:${server.port}/`));
    await settled();
    await shot("preview-share");
    const stranger = await browser.newContext();
    try {
      const shared = await stranger.newPage();
      await shared.goto(url);
      await shared.getByRole("heading", { name: "Directory listing for /" }).waitFor();
      await dialog.getByRole("button", { name: /^Revoke / }).click();
      await dialog.getByText("None: this preview is shared with no one.").waitFor();
      const refused = await (await stranger.newPage()).goto(url);
      assert.ok((refused?.status() ?? 0) >= 400, `a revoked link answers ${refused?.status()}`);
    } finally {
      await stranger.close();
    }
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  uiTest("the Terminal, Files and Preview tabs in the dark theme", async () => {
    await page.getByRole("button", { name: /^Color theme/ }).click();
    await page.getByRole("menuitem", { name: "Dark" }).click();
    await page.getByRole("menu").waitFor({ state: "hidden" });
    await page.getByTestId("terminal").first().waitFor({ state: "attached" });
    for (const tab of ["Terminal", "Files", "Preview"]) {
      await page.getByRole("tab", { name: tab, exact: true }).click();
      await page.getByRole("tab", { name: tab, exact: true, selected: true }).waitFor();
      await shot(`${tab.toLowerCase()}-dark`);
    }
    await page.getByRole("button", { name: /^Color theme/ }).click();
    await page.getByRole("menuitem", { name: "Light" }).click();
    await page.getByRole("menu").waitFor({ state: "hidden" });
  });

  uiTest("when the server cannot be reached the UI says so, and comes back on retry", async () => {
    // The network drops: every request to the server fails, as when it is stopped.
    await context.route(`${server.url}/api/**`, (route) => route.abort("connectionrefused"));
    await context.route(`${server.url}/healthz`, (route) => route.abort("connectionrefused"));
    try {
      await page.getByRole("link", { name: /shop-ui/ }).click();
      await page.getByRole("heading", { name: "The Outpost server does not answer" }).waitFor();
      await shot("unreachable");
    } finally {
      await context.unroute(`${server.url}/api/**`);
      await context.unroute(`${server.url}/healthz`);
    }
    await page.getByRole("button", { name: "Retry now" }).click();
    await page.getByRole("heading", { name: "shop-ui", level: 1 }).waitFor();
  });

  uiTest("the project is deleted, its sandbox first, after its name is typed", async () => {
    await page.getByRole("button", { name: "Project actions" }).click();
    await page.getByRole("menuitem", { name: "Delete project…" }).click();
    const dialog = page.getByRole("dialog", { name: "Delete shop-ui?" });
    await dialog.waitFor();
    await dialog.getByText(sandboxName).waitFor();
    const confirm = dialog.getByRole("button", { name: "Delete project" });
    assert.equal(await confirm.isDisabled(), true);
    await dialog.getByLabel(/to confirm/).fill("shop");
    assert.equal(await confirm.isDisabled(), true, "a wrong name deletes nothing");
    await dialog.getByLabel(/to confirm/).fill("shop-ui");
    await shot("delete-dialog");
    await confirm.click();

    await page.getByText("No projects yet").waitFor({ timeout: SANDBOX_TIMEOUT_MS });
    assert.equal(page.url(), `${server.url}/projects`);
    assert.equal((await apiJson(server, "GET", `/api/v1/projects/${project.id}`)).status, 404);
    const sandboxes = await apiJson<{ items: unknown[] }>(server, "GET", "/api/v1/sandboxes");
    assert.deepEqual(sandboxes.body.items, []);
  });

  uiTest("a browser whose session ended is told to sign in again", async () => {
    await context.clearCookies();
    await page.reload();
    await page.getByRole("heading", { name: "Your session has ended" }).waitFor();
    assert.ok(await page.getByText("npx outpost login-link").isVisible());
    await shot("session-expired");
  });

  test("no page threw an uncaught error", () => {
    assert.deepEqual(pageErrors, []);
  });
});
