// `outpost serve`'s start-up banner and `outpost login-link`: the one-time links that sign
// a browser in. Runs the built binary against a real `outpost serve`.
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type OutpostServer, runCli, STACK_FRAME, startOutpost } from "./harness.ts";

let server: OutpostServer;
const outpost = (...args: string[]) => runCli(args, server.cliEnv);

before(async () => {
  server = await startOutpost();
});

after(async () => {
  await server?.stop();
});

/** Opens a login link like a browser would, without following the redirect. */
async function openLink(url: string) {
  const response = await fetch(url, { redirect: "manual" });
  await response.text();
  return response;
}

function sessionCookieOf(response: Response): string {
  const setCookie = response.headers.get("set-cookie") ?? "";
  const match = /^(outpost_session=[^;]+)/.exec(setCookie);
  assert.ok(match?.[1], `expected an outpost_session cookie, got: ${setCookie}`);
  return match[1];
}

describe("outpost serve start-up", () => {
  test("start-up prints the URL and a one-time login link on stderr", () => {
    assert.match(server.banner, new RegExp(`Outpost is running at ${server.url.replace(/\./g, "\\.")}\\n`));
    assert.ok(server.loginUrl.startsWith(`${server.url}/login?code=`), server.loginUrl);
    assert.match(server.banner, /API reference: http:\/\/127\.0\.0\.1:\d+\/docs/);
    assert.match(server.banner, /^ {2}Sandboxes: ready \(bubblewrap \d+\.\d+\.\d+\)$/m, "this host has a working bubblewrap");
    assert.doesNotMatch(server.banner, STACK_FRAME);
  });

  test("start-up writes the admin token (mode 0600) and server.json with the URL into the data dir", () => {
    const tokenFile = join(server.dataDir, "admin-token");
    assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
    assert.ok(server.token.length >= 24);
    const info = JSON.parse(readFileSync(join(server.dataDir, "server.json"), "utf8")) as { url: string };
    assert.equal(info.url, server.url);
  });

  test("the login link from the banner signs a browser in, once", async () => {
    const first = await openLink(server.loginUrl);
    assert.equal(first.status, 303);
    assert.equal(first.headers.get("location"), "/");
    const cookie = sessionCookieOf(first);
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { cookie } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { name: string }).name, "admin");

    const again = await openLink(server.loginUrl);
    assert.equal(again.status, 401);
    assert.equal(again.headers.get("set-cookie"), null);
  });
});

describe("outpost login-link", () => {
  test("login-link prints a login URL for this server and exits 0", async () => {
    const result = await outpost("login-link");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout.trim(), new RegExp(`^${server.url.replace(/\./g, "\\.")}/login\\?code=\\S+$`));
  });

  test("the printed link gives a session cookie that authorizes the API, and works only once", async () => {
    const result = await outpost("login-link");
    assert.equal(result.code, 0, result.stderr);
    const link = result.stdout.trim();

    const response = await openLink(link);
    assert.equal(response.status, 303);
    const setCookie = response.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /HttpOnly/i);
    const cookie = sessionCookieOf(response);

    const projects = await fetch(`${server.url}/api/v1/projects`, { headers: { cookie } });
    assert.equal(projects.status, 200);
    assert.deepEqual(((await projects.json()) as { items: unknown[] }).items, []);

    const withoutCookie = await fetch(`${server.url}/api/v1/projects`);
    assert.equal(withoutCookie.status, 401);
    await withoutCookie.text();

    const second = await openLink(link);
    assert.equal(second.status, 401);
    assert.equal(second.headers.get("set-cookie"), null);
  });

  test("a HEAD request (a link preview) does not spend the link; the browser's GET still signs in", async () => {
    const result = await outpost("login-link");
    const link = result.stdout.trim();
    const head = await fetch(link, { method: "HEAD", redirect: "manual" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("set-cookie"), null);
    const opened = await openLink(link);
    assert.equal(opened.status, 303, "the link still works after the HEAD");
    sessionCookieOf(opened);
  });

  test("login-link --json prints the API's JSON with the URL and when it expires", async () => {
    const result = await outpost("login-link", "--json");
    assert.equal(result.code, 0, result.stderr);
    const link = JSON.parse(result.stdout) as { url: string; expiresAt: string };
    assert.deepEqual(Object.keys(link).sort(), ["expiresAt", "url"]);
    assert.ok(link.url.startsWith(`${server.url}/login?code=`));
    assert.ok(Date.parse(link.expiresAt) > Date.now(), link.expiresAt);
  });

  test("every login-link call prints a different link", async () => {
    const [a, b] = await Promise.all([outpost("login-link"), outpost("login-link")]);
    assert.equal(a.code, 0);
    assert.equal(b.code, 0);
    assert.notEqual(a.stdout.trim(), b.stdout.trim());
  });

  test("login-link with a wrong token exits 1 and mints nothing", async () => {
    const result = await outpost("login-link", "--token", "nope");
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /token/i);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });
});
