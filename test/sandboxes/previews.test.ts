// Previews over real sockets and real sandboxes: apps listening inside two sandboxes (Python's
// http.server in one, a Node app with a WebSocket echo in the other, both on port 3000) are
// reached on their own origins (`<port>-<sandbox>.localhost:<port>`, sent as the Host header
// to 127.0.0.1) after the open flow, or on the main origin's /preview/ path with a bearer
// token; nothing else gets in: no credentials, the UI's session cookie, another sandbox's
// preview cookie, a revoked or expired share. Ports appear in the ports list as they open.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../src/logger.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { cookiePair, ECHO_APP, GARBAGE_APP, hostRequest, openPreview, openWebSocket, previewHost, serve, waitForPort } from "../helpers/previews.ts";
import { exec, runningSandbox, waitForPhase } from "../helpers/sandboxes.ts";
import { api, removeAllSandboxes, startTestServer, type TestServer } from "../helpers/server.ts";

const NODE = "/opt/outpost/bin/node";

describe("previews", () => {
  let s: TestServer;
  let restarted: RunningServer | undefined;
  let a: { id: string; name: string };
  let b: { id: string; name: string };
  let aCookie: string;
  let bCookie: string;
  const server = () => ({ url: s.url, token: s.token });

  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "pv" } });
    [a, b] = await Promise.all([runningSandbox(s, "pv"), runningSandbox(s, "pv")]);
    await exec(s, a.id, ["sh", "-c", "mkdir -p /workspace/site && cat > /workspace/site/index.html"], { stdin: "<h1>hello from python in A</h1>\n" });
    await exec(s, b.id, ["sh", "-c", "cat > /workspace/echo.mjs"], { stdin: ECHO_APP });
    await exec(s, b.id, ["sh", "-c", "cat > /workspace/garbage.mjs"], { stdin: GARBAGE_APP });
    await Promise.all([
      serve(s, a.id, ["python3", "-m", "http.server", "3000", "--bind", "127.0.0.1", "--directory", "/workspace/site"], 3000),
      serve(s, b.id, [NODE, "/workspace/echo.mjs", "3000", "B"], 3000),
      serve(s, b.id, [NODE, "/workspace/garbage.mjs", "3005"], 3005),
    ]);
    aCookie = (await openPreview(server(), a, 3000)).cookie;
    bCookie = (await openPreview(server(), b, 3000)).cookie;
  });

  after(async () => {
    if (!restarted) return s?.close();
    await removeAllSandboxes(restarted);
    await restarted.close();
    rmSync(s.dataDir, { recursive: true, force: true });
  });

  test("python's http.server answers on its own origin after the open flow, as the app sent it", async () => {
    const open = await api(s, "GET", `/api/v1/sandboxes/${a.id}/previews/3000/open?next=/index.html`);
    assert.equal(open.status, 303);
    const location = new URL(open.headers.get("location") ?? "");
    assert.equal(location.origin, `http://3000-${a.name}.localhost:${new URL(s.url).port}`);
    assert.equal(location.pathname, "/__outpost/preview-login");
    assert.equal(location.searchParams.get("next"), "/index.html");

    const host = previewHost(s.url, a.name, 3000);
    const login = await hostRequest(s.url, { host, path: `${location.pathname}${location.search}` });
    assert.equal(login.status, 303);
    assert.equal(login.headers.location, "/index.html");
    const setCookie = String(login.headers["set-cookie"]);
    assert.match(setCookie, /^outpost_preview=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/, "host-only: no Domain");

    const page = await hostRequest(s.url, { host, path: "/index.html", headers: { cookie: cookiePair(login.headers["set-cookie"]) } });
    assert.equal(page.status, 200);
    assert.equal(page.text, "<h1>hello from python in A</h1>\n");
    assert.match(String(page.headers.server), /SimpleHTTP/, "the app's own headers");
    assert.equal(page.headers["x-request-id"], undefined, "no API headers on a preview");

    const again = await hostRequest(s.url, { host, path: `${location.pathname}${location.search}` });
    assert.equal(again.status, 401, "a code works once");
    const head = await api(s, "HEAD", `/api/v1/sandboxes/${a.id}/previews/3000/open`);
    assert.equal(head.headers.get("location"), `http://${host}/`, "a link checker's HEAD mints no code");
  });

  test("without credentials a preview is 401: the error shape for scripts, a page pointing to Outpost for browsers", async () => {
    const host = previewHost(s.url, a.name, 3000);
    const bare = await hostRequest(s.url, { host, path: "/" });
    assert.equal(bare.status, 401);
    assert.equal(bare.json().error.code, "PREVIEW_UNAUTHENTICATED");
    assert.match(bare.json().error.hint, /open/);

    const browser = await hostRequest(s.url, { host, path: "/docs/?x=1", headers: { accept: "text/html,application/xhtml+xml" } });
    assert.equal(browser.status, 401);
    assert.match(String(browser.headers["content-type"]), /text\/html/);
    assert.match(browser.text, /Open this preview from Outpost/);
    assert.ok(browser.text.includes(`/api/v1/sandboxes/${a.name}/previews/3000/open?next=%2Fdocs%2F%3Fx%3D1`), "links to the open route, back to this page");

    const junk = await hostRequest(s.url, { host, path: "/", headers: { cookie: "outpost_preview=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } });
    assert.equal(junk.status, 401, "an unknown cookie opens nothing");
  });

  test("the UI's session cookie is host-only and refused on a preview origin and on the bearer path", async () => {
    const link = await api(s, "POST", "/api/v1/login-links");
    const signIn = await fetch(link.body.url, { redirect: "manual" });
    const setCookie = signIn.headers.get("set-cookie") ?? "";
    assert.doesNotMatch(setCookie, /domain=/i, "the session cookie has no Domain: previews never receive it");
    const session = setCookie.split(";", 1)[0] as string;
    assert.equal((await fetch(`${s.url}/api/v1/projects`, { headers: { cookie: session } })).status, 200, "it works on the main origin");

    const onPreview = await hostRequest(s.url, { host: previewHost(s.url, a.name, 3000), path: "/", headers: { cookie: session } });
    assert.equal(onPreview.status, 401);
    assert.equal(onPreview.json().error.code, "PREVIEW_UNAUTHENTICATED");

    const onBearerPath = await fetch(`${s.url}/preview/${a.name}/3000/`, { headers: { cookie: session }, redirect: "manual" });
    assert.equal(onBearerPath.status, 401);
    assert.equal(((await onBearerPath.json()) as any).error.code, "PREVIEW_UNAUTHENTICATED");

    const browser = await fetch(`${s.url}/preview/${a.name}/3000/index.html?x=1`, { headers: { cookie: session, accept: "text/html" }, redirect: "manual" });
    assert.equal(browser.status, 303, "a browser is sent to the open route instead");
    assert.equal(browser.headers.get("location"), `${s.url}/api/v1/sandboxes/${a.name}/previews/3000/open?next=${encodeURIComponent("/index.html?x=1")}`);
  });

  test("a bearer token opens /preview/<sandbox>/<port>/ on the main origin; Outpost's credentials never reach the app", async () => {
    const res = await fetch(`${s.url}/preview/${b.name}/3000/some/path?q=1`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.token}`, cookie: "outpost_session=x; other=y", "content-type": "text/plain" },
      body: "hello",
    });
    assert.equal(res.status, 200);
    const seen = (await res.json()) as any;
    assert.equal(seen.tag, "B");
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/some/path?q=1", "served at / for the app");
    assert.equal(seen.length, 5);
    assert.equal(seen.headers.authorization, undefined, "the bearer token stays with Outpost");
    assert.equal(seen.headers.cookie, undefined, "the main origin's cookies stay with Outpost");
    assert.equal(seen.headers.host, previewHost(s.url, b.name, 3000));
    assert.equal(seen.headers["x-forwarded-prefix"], `/preview/${b.name}/3000`);
    assert.equal(res.headers.get("set-cookie"), null, "the app cannot set cookies on the main origin");
    assert.equal(res.headers.get("content-security-policy"), "sandbox", "nor run script there");

    const byId = await fetch(`${s.url}/preview/${b.id}/3000`, { headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(((await byId.json()) as any).url, "/", "the id works too; no trailing slash is /");

    const badToken = await fetch(`${s.url}/preview/${b.name}/3000/`, { headers: { authorization: "Bearer opt_nope" } });
    assert.equal(badToken.status, 401);
    assert.equal(((await badToken.json()) as any).error.code, "UNAUTHENTICATED");
  });

  test("on its origin the app gets its own cookies and forwarding headers, minus Outpost's cookie and hop-by-hop headers", async () => {
    const host = previewHost(s.url, b.name, 3000);
    const body = Buffer.alloc(3 * 1024 * 1024, 7);
    const res = await hostRequest(s.url, {
      host,
      method: "PUT",
      path: "/upload?x=1",
      headers: {
        cookie: `theme=dark; ${bCookie}; lang=en`,
        connection: "keep-alive, x-private",
        "x-private": "hop",
        "x-forwarded-for": "10.9.9.9",
        te: "trailers",
      },
      body,
    });
    assert.equal(res.status, 200);
    const seen = res.json();
    assert.equal(seen.headers.cookie, "theme=dark; lang=en");
    assert.equal(seen.headers.host, host);
    assert.equal(seen.headers["x-forwarded-host"], host);
    assert.equal(seen.headers["x-forwarded-proto"], "http");
    assert.equal(seen.headers["x-forwarded-for"], "10.9.9.9, 127.0.0.1");
    assert.equal(seen.headers["x-private"], undefined, "listed in Connection: hop-by-hop");
    assert.equal(seen.headers.te, undefined);
    assert.equal(seen.length, body.length, "the body streams through whole");
    assert.equal(seen.sha256, createHash("sha256").update(body).digest("hex"));
    assert.equal(res.headers["set-cookie"]?.[0], "app_cookie=B; Path=/", "the app's own cookie reaches the browser on its origin");
    assert.notEqual(res.headers["keep-alive"], "timeout=5", "the app's hop-by-hop headers stay behind");

    const big = await hostRequest(s.url, { host, path: "/big?bytes=20000000", headers: { cookie: bCookie } });
    assert.equal(big.body.length, 20_000_000);
  });

  test("two sandboxes both serve port 3000, each on its own origin, and one's cookie does not open the other", async () => {
    const hostA = previewHost(s.url, a.name, 3000);
    const hostB = previewHost(s.url, b.name, 3000);
    assert.equal((await hostRequest(s.url, { host: hostA, path: "/", headers: { cookie: aCookie } })).text, "<h1>hello from python in A</h1>\n");
    assert.equal((await hostRequest(s.url, { host: hostB, path: "/", headers: { cookie: bCookie } })).json().tag, "B");
    assert.equal((await hostRequest(s.url, { host: hostB, path: "/", headers: { cookie: aCookie } })).status, 401);
    assert.equal((await hostRequest(s.url, { host: hostA, path: "/", headers: { cookie: bCookie } })).status, 401);
    // Nor another port of the same sandbox: each port is an origin of its own.
    assert.equal((await hostRequest(s.url, { host: previewHost(s.url, b.name, 3005), path: "/", headers: { cookie: bCookie } })).status, 401);
  });

  test("a WebSocket echo server in the sandbox works through the preview (origin with cookie, bearer path with token)", async () => {
    const ws = await openWebSocket(s.url, previewHost(s.url, b.name, 3000), "/ws", { cookie: bCookie });
    assert.equal(ws.response.headers["x-app"], "B");
    ws.send("ping");
    assert.equal(await ws.next(), "B echo: ping");
    const long = "x".repeat(1000);
    ws.send(long);
    assert.equal(await ws.next(), `B echo: ${long}`);
    ws.close();

    const viaBearer = await openWebSocket(s.url, new URL(s.url).host, `/preview/${b.name}/3000/ws`, { authorization: `Bearer ${s.token}` });
    viaBearer.send("over the bearer path");
    assert.equal(await viaBearer.next(), "B echo: over the bearer path");
    viaBearer.close();

    await assert.rejects(openWebSocket(s.url, previewHost(s.url, b.name, 3000), "/ws"), (error: any) => error.status === 401, "no cookie, no socket");
  });

  test("a share link opens the preview without an account, until it is revoked or expires", async () => {
    const created = await api(s, "POST", `/api/v1/sandboxes/${b.id}/previews/3000/share`, { body: { expiresInMinutes: 30 } });
    assert.equal(created.status, 201);
    const url = new URL(created.body.url);
    assert.equal(url.host, previewHost(s.url, b.name, 3000));
    assert.ok(Date.parse(created.body.expiresAt) > Date.now() + 29 * 60_000);

    const visit = async () => {
      const login = await hostRequest(s.url, { host: url.host, path: `${url.pathname}${url.search}` });
      if (login.status !== 303) return { status: login.status, cookie: "" };
      return { status: 303, cookie: cookiePair(login.headers["set-cookie"]) };
    };
    const first = await visit();
    const second = await visit();
    assert.deepEqual([first.status, second.status], [303, 303], "anyone may open it, more than once");
    assert.equal((await hostRequest(s.url, { host: url.host, path: "/", headers: { cookie: first.cookie } })).json().tag, "B");
    const listed = await api(s, "GET", `/api/v1/sandboxes/${b.id}/previews/3000/share`);
    assert.deepEqual(
      listed.body.items.map((i: any) => i.id),
      [created.body.id],
    );
    assert.equal(listed.body.items[0].url, undefined, "the URL is shown once");

    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${b.id}/previews/3000/share/${created.body.id}`)).status, 204);
    assert.equal((await hostRequest(s.url, { host: url.host, path: "/", headers: { cookie: first.cookie } })).status, 401, "its sessions end with it");
    assert.equal((await visit()).status, 401, "the link no longer works");
    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${b.id}/previews/3000/share/${created.body.id}`)).status, 404);

    const expiring = await api(s, "POST", `/api/v1/sandboxes/${b.id}/previews/3000/share`, { body: {} });
    assert.ok(Math.abs(Date.parse(expiring.body.expiresAt) - Date.now() - 60 * 60_000) < 60_000, "60 minutes by default");
    const expiringUrl = new URL(expiring.body.url);
    const opened = await hostRequest(s.url, { host: expiringUrl.host, path: `${expiringUrl.pathname}${expiringUrl.search}` });
    const cookie = cookiePair(opened.headers["set-cookie"]);
    // Its time runs out (moved into the past in the store rather than waited for).
    await s.server.pool.query("update preview_shares set expires_at = now() - interval '1 second' where id = $1", [expiring.body.id]);
    assert.equal((await hostRequest(s.url, { host: expiringUrl.host, path: "/", headers: { cookie } })).status, 401, "its sessions end when it expires");
    assert.equal((await hostRequest(s.url, { host: expiringUrl.host, path: `${expiringUrl.pathname}${expiringUrl.search}` })).status, 401);
  });

  test("the ports list shows a port once something listens there, with its process", async () => {
    const before = await api(s, "GET", `/api/v1/sandboxes/${a.id}/ports`);
    assert.equal(before.status, 200);
    const python = before.body.items.find((p: any) => p.port === 3000);
    assert.deepEqual(python.addresses, ["127.0.0.1"]);
    assert.equal(python.process.name, "python3");
    assert.equal(python.previewUrl, `http://3000-${a.name}.localhost:${new URL(s.url).port}/`);
    assert.equal(python.openUrl, `${s.url}/api/v1/sandboxes/${a.name}/previews/3000/open`);
    assert.ok(!before.body.items.some((p: any) => p.port === 4321));

    // Listening on every address inside (0.0.0.0) counts too.
    const started = await api(s, "POST", `/api/v1/sandboxes/${a.id}/processes`, {
      body: { command: [NODE, "-e", "require('net').createServer().listen(4321, '0.0.0.0')"] },
    });
    assert.equal(started.status, 201);
    const items = await waitForPort(s, a.id, 4321);
    const node = items.find((p: any) => p.port === 4321);
    assert.deepEqual([node.addresses, node.process.name], [["0.0.0.0"], "node"]);
    await api(s, "POST", `/api/v1/sandboxes/${a.id}/processes/${started.body.id}/signal`, { body: { signal: "SIGKILL" } });
  });

  test("an app that answers garbage costs a 502 for that request; one that never answers holds only its own", async () => {
    const { cookie } = await openPreview(server(), b, 3005);
    const garbage = await hostRequest(s.url, { host: previewHost(s.url, b.name, 3005), path: "/", headers: { cookie } });
    assert.equal(garbage.status, 502);
    assert.equal(garbage.json().error.code, "PREVIEW_APP_BAD_RESPONSE");

    const nothing = await hostRequest(s.url, {
      host: previewHost(s.url, b.name, 3999),
      path: "/",
      headers: { cookie: (await openPreview(server(), b, 3999)).cookie },
    });
    assert.equal(nothing.status, 502);
    assert.equal(nothing.json().error.code, "PORT_NOT_LISTENING");

    const abort = new AbortController();
    const silent = hostRequest(s.url, { host: previewHost(s.url, b.name, 3000), path: "/silent", headers: { cookie: bCookie }, signal: abort.signal });
    silent.catch(() => {});
    assert.equal((await hostRequest(s.url, { host: previewHost(s.url, b.name, 3000), path: "/", headers: { cookie: bCookie } })).status, 200);
    assert.equal((await api(s, "GET", `/api/v1/sandboxes/${b.id}`)).status, 200);
    abort.abort();
  });

  test("bad input: a Host that is not a preview's goes to the API; bad ports, unknown sandboxes and foreign `next` are refused", async () => {
    const port = new URL(s.url).port;
    const plain = await hostRequest(s.url, { host: `example.com:${port}`, path: "/api/v1/projects" });
    assert.equal(plain.status, 401);
    assert.equal(plain.json().error.code, "UNAUTHENTICATED", "the API, as before");
    assert.ok(plain.headers["x-request-id"]);
    const deeper = await hostRequest(s.url, { host: `x.3000-${a.name}.localhost:${port}`, path: "/healthz" });
    assert.equal(deeper.status, 200, "only one label under the preview domain is a preview");

    for (const label of [`0-${a.name}`, `70000-${a.name}`, `abc-${a.name}`, `3000-${a.name}-`, "3000-nosuch-aaaaaa"]) {
      const res = await hostRequest(s.url, { host: `${label}.localhost:${port}`, path: "/" });
      assert.equal(res.status, 404, label);
      assert.equal(res.json().error.code, "PREVIEW_NOT_FOUND", label);
      assert.ok(res.json().error.requestId, label);
    }
    for (const path of [`/preview/${a.name}/0/`, `/preview/${a.name}/70000/`, `/preview/${a.name}/abc/`, `/preview/${a.name}`, "/preview/bad%20name/3000/"]) {
      const res = await fetch(`${s.url}${path}`, { headers: { authorization: `Bearer ${s.token}` } });
      assert.equal(res.status, 404, path);
      assert.equal(((await res.json()) as any).error.code, "PREVIEW_NOT_FOUND", path);
    }
    const unknown = await fetch(`${s.url}/preview/nosuch-aaaaaa/3000/`, { headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as any).error.code, "SANDBOX_NOT_FOUND");

    for (const path of [
      `/api/v1/sandboxes/${a.id}/previews/0/open`,
      `/api/v1/sandboxes/${a.id}/previews/70000/open`,
      `/api/v1/sandboxes/${a.id}/previews/abc/open`,
    ]) {
      const res = await api(s, "GET", path);
      assert.equal(res.status, 400, path);
      assert.equal(res.body.error.code, "VALIDATION_FAILED", path);
    }
    assert.equal((await api(s, "GET", "/api/v1/sandboxes/nosuch-aaaaaa/previews/3000/open")).status, 404);
    for (const next of ["https://evil.com", "//evil.com", "/\\evil.com", "javascript:alert(1)"]) {
      const res = await api(s, "GET", `/api/v1/sandboxes/${a.id}/previews/3000/open?next=${encodeURIComponent(next)}`);
      assert.equal(res.status, 400, next);
      assert.equal(res.body.error.code, "VALIDATION_FAILED", next);
    }
    // The preview's sign-in checks `next` too, before spending the code.
    const open = await api(s, "GET", `/api/v1/sandboxes/${a.id}/previews/3000/open`);
    const location = new URL(open.headers.get("location") ?? "");
    const evil = await hostRequest(s.url, {
      host: location.host,
      path: `${location.pathname}${location.search}&next=${encodeURIComponent("https://evil.com")}`,
    });
    assert.equal(evil.status, 400);
    assert.equal(evil.json().error.code, "VALIDATION_FAILED");
    assert.equal((await hostRequest(s.url, { host: location.host, path: `${location.pathname}${location.search}` })).status, 303, "the code was not spent");

    const shares = async () => (await api(s, "GET", `/api/v1/sandboxes/${b.id}/previews/3000/share`)).body.items.length;
    const sharesBefore = await shares();
    for (const body of [{ expiresInMinutes: 0 }, { expiresInMinutes: 60 * 24 * 31 }, { expiresInMinutes: "soon" }, { ttl: 5 }]) {
      const res = await api(s, "POST", `/api/v1/sandboxes/${b.id}/previews/3000/share`, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
    assert.equal((await api(s, "DELETE", `/api/v1/sandboxes/${b.id}/previews/3000/share/nope`)).status, 400);
    assert.equal(await shares(), sharesBefore, "the refused ones made no share");
  });

  test("preview sessions live in the database: after a control-plane restart the same cookie still opens the preview", async (t) => {
    // An open preview WebSocket does not hold the shutdown up: it is closed with the server.
    const ws = await openWebSocket(s.url, previewHost(s.url, b.name, 3000), "/ws", { cookie: bCookie });
    await s.server.close({ stopDatabase: false });
    await ws.closed;
    restarted = await startServer(s.settings, { logger: createLogger(process.env.OUTPOST_TEST_LOG ?? "silent") });
    // The sandbox's supervisor dials the new control plane by itself (with a back-off).
    const back = await restarted.sandboxes.driver.connect(b.id, { timeoutMs: 30_000 }).then(
      () => true,
      () => false,
    );
    if (!back) {
      // Known, not yet understood (see the stop note of issue 17): on a loaded machine a
      // supervisor sometimes does not redial a control plane restarted in the same process.
      // What this test is about is the preview session, so the sandbox and its app are
      // started again, and the log says what happened.
      const log = readFileSync(join(s.settings.dataDir, "sandboxes", b.id, "sandbox.log"), "utf8").slice(-2000);
      t.diagnostic(`sandbox B's supervisor did not redial within 30 s; restarting it. Its log ends with:\n${log}`);
      const now = { url: restarted.url, token: s.token };
      assert.equal((await api(now, "POST", `/api/v1/sandboxes/${b.id}/restart`)).status, 202);
      // The new supervisor's link, then the phase (written once the start has finished).
      await restarted.sandboxes.driver.connect(b.id, { timeoutMs: 120_000 });
      await waitForPhase(now, b.id, ["running"], 120_000);
      await serve(now, b.id, [NODE, "/workspace/echo.mjs", "3000", "B"], 3000);
    }
    const res = await hostRequest(restarted.url, { host: previewHost(restarted.url, b.name, 3000), path: "/", headers: { cookie: bCookie } });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json().tag, "B");
  });
});
