// The browser side of Outpost in a real headless Chromium: signing in with the login link
// that `outpost serve` prints, and the API reference at /docs/ working offline (every
// request it makes stays on this server: no fonts, CDN, proxy or telemetry).
// Needs Debian's `chromium` (see test/helpers/chromium.ts) and the built bundle.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page, Request } from "playwright-core";
import { type OutpostServer, startOutpost } from "../cli/harness.ts";
import { launchChromium } from "../helpers/chromium.ts";

const SCREENSHOT = "/tmp/outpost-docs.png";

let server: OutpostServer;
let browser: Browser;

before(async () => {
  [server, browser] = await Promise.all([startOutpost(), launchChromium()]);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/**
 * Records every URL the context requests (pages, scripts, styles, fonts, fetches, workers)
 * and every WebSocket, and can wait until the network has been quiet for a moment (no
 * request in flight), so that lazy loads such as fonts or telemetry are counted too.
 * (Playwright's "networkidle" did not fire reliably on the docs page with this Chromium.)
 */
function recordRequests(context: BrowserContext, page: Page) {
  const urls: string[] = [];
  const inFlight = new Set<Request>();
  let onChange = () => {};
  context.on("request", (request) => {
    urls.push(request.url());
    inFlight.add(request);
    onChange();
  });
  const done = (request: Request) => {
    inFlight.delete(request);
    onChange();
  };
  context.on("requestfinished", done);
  context.on("requestfailed", done);
  page.on("websocket", (socket) => urls.push(socket.url()));

  const quiet = (quietMs = 500, timeoutMs = 15_000) =>
    new Promise<void>((resolve, reject) => {
      let quietTimer: NodeJS.Timeout | undefined;
      const deadline = setTimeout(() => {
        clearTimeout(quietTimer);
        onChange = () => {};
        reject(new Error(`the network was never quiet for ${quietMs} ms; in flight: ${[...inFlight].map((r) => r.url()).join(", ")}`));
      }, timeoutMs);
      onChange = () => {
        clearTimeout(quietTimer);
        if (inFlight.size > 0) return;
        quietTimer = setTimeout(() => {
          clearTimeout(deadline);
          onChange = () => {};
          resolve();
        }, quietMs);
      };
      onChange();
    });
  return { urls, quiet };
}

/** Requests that left this server: anything on the network whose origin is not the server's. */
function foreignRequests(urls: string[], origin: string): string[] {
  return urls.filter((url) => {
    const parsed = new URL(url);
    if (["http:", "https:", "ws:", "wss:"].includes(parsed.protocol))
      return parsed.host !== new URL(origin).host || !["http:", "ws:"].includes(parsed.protocol);
    return !["data:", "blob:", "about:"].includes(parsed.protocol);
  });
}

describe("the browser", () => {
  let context: BrowserContext;
  let page: Page;
  let requests: string[];
  let networkQuiet: () => Promise<void>;

  before(async () => {
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    ({ urls: requests, quiet: networkQuiet } = recordRequests(context, page));
  });

  after(async () => {
    await context?.close();
  });

  test("the login link printed at start-up lands on / signed in as admin", async () => {
    const response = await page.goto(server.loginUrl);
    assert.equal(response?.status(), 200);
    assert.equal(page.url(), `${server.url}/`);
    await page.getByText("Signed in as admin").waitFor({ state: "visible" });
    const cookies = await context.cookies(server.url);
    const session = cookies.find((c) => c.name === "outpost_session");
    assert.ok(session, "the session cookie is set");
    assert.equal(session.httpOnly, true);
  });

  test("/docs/ renders the Outpost API reference with requests to this server only", async () => {
    requests.length = 0;
    const response = await page.goto(`${server.url}/docs/`);
    assert.equal(response?.status(), 200);
    await page.getByRole("heading", { name: "Outpost API" }).waitFor({ state: "visible", timeout: 30_000 });
    // The sidebar lists the tags; the projects group opens on a click.
    await page
      .getByRole("button", { name: /projects/ })
      .first()
      .click();
    await page.getByText("Create a project").first().waitFor({ state: "visible" });
    await page.getByText("List the projects you are a member of").first().waitFor({ state: "visible" });
    // Let lazy loads (fonts, chunks, telemetry) happen before judging what was requested.
    await networkQuiet();
    await page.screenshot({ path: SCREENSHOT });

    assert.ok(
      requests.some((url) => url === `${server.url}/api/v1/openapi.json`),
      `the reference loads the OpenAPI document from this server; requests:\n${requests.join("\n")}`,
    );
    assert.deepEqual(foreignRequests(requests, server.url), [], `requests that left ${server.url}`);
  });

  test("the reference shows the API's title and the projects operations", async () => {
    await page.getByText("Projects, sandboxes and agent runs.").waitFor({ state: "visible" });
    for (const summary of ["Create a project", "Get a project by id or name", "Update a project", "Delete a project"]) {
      assert.ok((await page.getByText(summary).count()) > 0, `"${summary}" is on the page`);
    }
    assert.deepEqual(foreignRequests(requests, server.url), []);
  });
});

describe("without a session", () => {
  test("/docs/ in a fresh browser shows the sign-in page, not the reference", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const { urls: requests } = recordRequests(context, page);
      const response = await page.goto(`${server.url}/docs/`);
      assert.equal(response?.status(), 401);
      await page.getByText("You are not signed in").waitFor({ state: "visible" });
      assert.equal(await page.getByText("Create a project").count(), 0);
      assert.equal(await page.title(), "Outpost — sign in");
      assert.deepEqual(requests, [`${server.url}/docs/`], "the sign-in page loads nothing else");
    } finally {
      await context.close();
    }
  });

  test("a login link that was already used does not sign a fresh browser in", async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      const response = await page.goto(server.loginUrl);
      assert.equal(response?.status(), 401);
      await page.getByText("This login link does not work").waitFor({ state: "visible" });
      assert.deepEqual(await context.cookies(server.url), []);
    } finally {
      await context.close();
    }
  });
});
