// Origin isolation of previews in a real headless Chromium: a user signs in on the main
// origin and opens two sandboxes' previews through the open flow (so the browser holds the
// UI's session and a cookie for each preview). JavaScript on one preview (code the agent
// wrote) then tries to use those: read the API with the user's session, make the API act
// with it, read the other sandbox's preview. None of it works: the answers are unreadable
// (another origin, no CORS), and the cookies do not even travel (SameSite=Lax, host-only),
// so the servers answer 401. Needs Debian's `chromium` (see test/helpers/chromium.ts).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "../helpers/chromium.ts";
import { ECHO_APP, serve } from "../helpers/previews.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

const SCREENSHOT = "/tmp/outpost-preview-isolation.png";

describe("a preview's JavaScript cannot use the user's session or another preview", () => {
  let s: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let a: { id: string; name: string };
  let b: { id: string; name: string };

  before(async () => {
    [s, browser] = await Promise.all([startTestServer("embedded"), launchChromium()]);
    await api(s, "POST", "/api/v1/projects", { body: { name: "iso" } });
    [a, b] = await Promise.all([runningSandbox(s, "iso"), runningSandbox(s, "iso")]);
    for (const [box, tag] of [
      [a, "A"],
      [b, "B"],
    ] as const) {
      await exec(s, box.id, ["sh", "-c", "cat > /workspace/app.mjs"], { stdin: ECHO_APP });
      await serve(s, box.id, ["/opt/outpost/bin/node", "/workspace/app.mjs", "3000", tag], 3000);
    }
    context = await browser.newContext();
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await s?.close();
    // Once in a clean CI run this file's process stayed alive after passing (an open handle
    // of the in-process server, not yet found), until the file's 180 s limit. Everything is
    // reported by now: a process still alive 10 s later exits with the status it has.
    setTimeout(() => process.exit(), 10_000).unref();
  });

  test("signed in on the main origin, with both previews open, preview A cannot read the API nor preview B", async (t) => {
    try {
      const link = await api(s, "POST", "/api/v1/login-links");
      await page.goto(link.body.url);
      assert.equal(await page.evaluate(`fetch("/api/v1/projects").then((r) => r.status)`), 200, "signed in on the main origin");

      const origin = (box: { name: string }) => `http://3000-${box.name}.localhost:${new URL(s.url).port}`;
      for (const box of [b, a]) {
        await page.goto(`${s.url}/api/v1/sandboxes/${box.id}/previews/3000/open`);
        assert.equal(new URL(page.url()).origin, origin(box), "the open flow lands on the preview's own origin");
      }
      const seen = JSON.parse((await page.textContent("body")) ?? "{}");
      assert.equal(seen.tag, "A", "preview A is shown");
      assert.doesNotMatch(seen.headers.cookie ?? "", /outpost_/, "preview A's app saw none of Outpost's cookies");

      // What the browser actually sent (cookies included) and got, per request.
      const sent = new Map<string, Promise<Record<string, string>>>();
      const statuses = new Map<string, number>();
      context.on("request", (request) => sent.set(`${request.method()} ${request.url()}`, request.allHeaders()));
      context.on("response", (response) => statuses.set(`${response.request().method()} ${response.url()}`, response.status()));
      // What the agent's code could run on its preview (a string: the test's compiled
      // functions carry helpers the page does not have).
      const attempts = (await page.evaluate(`(async () => {
        const attempt = async (url, init) => {
          try {
            const response = await fetch(url, { credentials: "include", ...init });
            return { read: true, status: response.status, body: await response.text() };
          } catch (error) {
            return { read: false, error: String(error) };
          }
        };
        const cookies = document.cookie;
        // Cookie tossing: one for every *.localhost (B, the UI at localhost), and a forged
        // preview cookie over the real (HttpOnly) one.
        document.cookie = "tossed=1; Domain=localhost; Path=/";
        document.cookie = "outpost_preview=forged; Path=/";
        return {
          cookies,
          afterTossing: document.cookie,
          api: await attempt(${JSON.stringify(`${s.url}/api/v1/projects`)}, {}),
          create: await attempt(${JSON.stringify(`${s.url}/api/v1/projects`)}, {
            method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ name: "made-by-a-preview" }),
          }),
          other: await attempt(${JSON.stringify(`${origin(b)}/`)}, {}),
          own: await attempt("/own", {}),
        };
      })()`)) as Record<string, any>;

      assert.equal(attempts.cookies, "app_cookie=A", "the preview cookie is HttpOnly; the UI's session is another origin's");
      assert.equal(attempts.api.read, false, `the API's answer is unreadable: ${JSON.stringify(attempts.api)}`);
      assert.equal(attempts.other.read, false, `preview B's answer is unreadable: ${JSON.stringify(attempts.other)}`);
      assert.equal(attempts.afterTossing, "app_cookie=A", "no cookie for all of localhost, and the HttpOnly one cannot be overwritten");
      // Its own origin works (the real preview cookie still goes), and shows that a cookie
      // that travels is seen here.
      assert.equal(JSON.parse(attempts.own.body).tag, "A");
      assert.match((await sent.get(`GET ${origin(a)}/own`))?.cookie ?? "", /outpost_preview=/);
      for (const request of [`GET ${s.url}/api/v1/projects`, `POST ${s.url}/api/v1/projects`, `GET ${origin(b)}/`]) {
        const headers = await sent.get(request);
        assert.ok(headers, `${request} was sent`);
        assert.equal(headers.cookie, undefined, `${request} carried no cookie (SameSite=Lax, host-only)`);
      }
      assert.equal(attempts.create.status, 0, "an opaque answer");
      assert.equal(statuses.get(`POST ${s.url}/api/v1/projects`), 401, "the API refused the write: no session came with it");
      const projects = await api(s, "GET", "/api/v1/projects");
      assert.ok(!JSON.stringify(projects.body).includes("made-by-a-preview"), "the API did not act for the preview");
    } catch (error) {
      await page.screenshot({ path: SCREENSHOT }).catch(() => {});
      t.diagnostic(`screenshot: ${SCREENSHOT}`);
      throw error;
    }
  });
});
