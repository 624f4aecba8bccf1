// Everything around the API: authentication on every route, browser login links, probes,
// metrics, OpenAPI, request ids, and secrets kept out of logs.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { loadSettings } from "../../src/config/settings.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningServer, startServer } from "../../src/server.ts";
import { api, createUser, freshMachineDatabase, tempDir } from "../helpers/server.ts";

describe("HTTP surface", () => {
  let server: RunningServer;
  let token: string;
  let dropDb: () => Promise<void>;
  const logLines: string[] = [];

  before(async () => {
    const db = await freshMachineDatabase();
    dropDb = db.drop;
    const dataDir = tempDir();
    // Capture every log line at the most verbose level to check that secrets never appear.
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      },
    });
    server = await startServer(loadSettings({}, { dataDir, port: 0, databaseUrl: db.url, logLevel: "trace" }), { logger: createLogger("trace", sink) });
    const { readFileSync } = await import("node:fs");
    token = readFileSync(`${dataDir}/admin-token`, "utf8").trim();
  });
  after(async () => {
    await server?.close();
    await dropDb?.();
  });

  const s = () => ({ url: server.url, token });

  test("every API route refuses a request without a token, or with a wrong one, as UNAUTHENTICATED", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/projects"],
      ["POST", "/api/v1/projects"],
      ["GET", "/api/v1/projects/x"],
      ["PATCH", "/api/v1/projects/x"],
      ["DELETE", "/api/v1/projects/x"],
      ["GET", "/api/v1/events"],
      ["GET", "/api/v1/openapi.json"],
      ["POST", "/api/v1/login-links"],
      ["GET", "/api/v1/projects/x/members"],
      ["GET", "/api/v1/users"],
      ["POST", "/api/v1/users"],
      ["GET", "/metrics"],
    ]) {
      for (const bad of [null, "opt_wrong", "not a token at all"]) {
        const res = await api(s(), method!, path!, { token: bad, body: method === "GET" || method === "DELETE" ? undefined : {} });
        assert.equal(res.status, 401, `${method} ${path} with ${bad}`);
        assert.equal(res.body.error.code, "UNAUTHENTICATED");
      }
    }
  });

  test("the probes answer without a token: /healthz up, /readyz database and migrations", async () => {
    assert.deepEqual((await api(s(), "GET", "/healthz", { token: null })).body, { status: "ok" });
    const ready = await api(s(), "GET", "/readyz", { token: null });
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { database: true, migrations: true });
  });

  test("a one-time login link opens a browser session that works for the API, once", async () => {
    const link = await api(s(), "POST", "/api/v1/login-links");
    assert.equal(link.status, 201);
    const first = await fetch(link.body.url, { redirect: "manual" });
    assert.equal(first.status, 303);
    const cookie = first.headers.get("set-cookie") ?? "";
    assert.match(cookie, /outpost_session=.+; Path=\/; HttpOnly; SameSite=Lax/);
    const session = cookie.split(";")[0]!;
    const withCookie = await fetch(`${server.url}/api/v1/projects`, { headers: { cookie: session } });
    assert.equal(withCookie.status, 200);
    const me = await fetch(`${server.url}/api/v1/me`, { headers: { cookie: session } });
    assert.deepEqual(((await me.json()) as { name: string }).name, "admin");
    const again = await fetch(link.body.url, { redirect: "manual" });
    assert.equal(again.status, 401, "a used link does not work twice");
    assert.equal(again.headers.get("set-cookie"), null);
    // A cookie cannot be used for a cross-site write.
    const forged = await fetch(`${server.url}/api/v1/projects`, {
      method: "POST",
      headers: { cookie: session, origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ name: "csrf" }),
    });
    assert.equal(forged.status, 403);
    assert.equal((await api(s(), "GET", "/api/v1/projects/csrf")).status, 404);
  });

  test("without a session the browser pages show how to sign in", async () => {
    const docs = await fetch(`${server.url}/docs/`);
    assert.equal(docs.status, 401);
    assert.match(await docs.text(), /outpost login-link/);
    // The web UI's page is public (it holds no data); its sign-in page is drawn by the UI,
    // which learns from /api/v1/me that nobody is signed in.
    const home = await fetch(`${server.url}/`);
    assert.equal(home.status, 200);
    assert.match(await home.text(), /outpost login-link/, "the page says how to sign in even without JavaScript");
    assert.equal((await fetch(`${server.url}/api/v1/me`)).status, 401);
  });

  test("every response carries a request id, and a sane incoming one is kept", async () => {
    const res = await api(s(), "GET", "/api/v1/projects");
    assert.match(res.headers.get("x-request-id") ?? "", /^req_[0-9a-f]{16}$/);
    const mine = await api(s(), "GET", "/api/v1/projects", { headers: { "x-request-id": "trace-abc-12345" } });
    assert.equal(mine.headers.get("x-request-id"), "trace-abc-12345");
    const hostile = await api(s(), "GET", "/api/v1/projects", { headers: { "x-request-id": 'a"b<script>' } });
    assert.match(hostile.headers.get("x-request-id") ?? "", /^req_/);
  });

  test("the OpenAPI 3.1 document describes the project routes and the error shape", async () => {
    const doc = (await api(s(), "GET", "/api/v1/openapi.json")).body;
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.paths["/api/v1/projects"].post);
    assert.ok(doc.paths["/api/v1/projects/{id}"].patch);
    assert.ok(doc.paths["/api/v1/events"].get);
    assert.ok(doc.components.schemas.Project);
    assert.ok(doc.components.schemas.Error);
    assert.ok(!doc.paths["/metrics"], "internal routes are hidden");
  });

  test("/metrics exposes request latency by route template, the pool and the process", async () => {
    await api(s(), "GET", "/api/v1/projects/some-name");
    const text = (await api(s(), "GET", "/metrics")).body as string;
    assert.match(text, /outpost_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/projects\/:id"/);
    assert.ok(!text.includes("some-name"), "ids and names stay out of labels");
    assert.match(text, /outpost_db_pool_connections \d+/);
    assert.match(text, /outpost_process_resident_memory_bytes \d+/);
  });

  test("/metrics is for admins: another user's token gets 403", async () => {
    const user = await createUser(s(), `metrics-${Date.now()}`);
    const refused = await api(s(), "GET", "/metrics", { token: user.token });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "FORBIDDEN");
  });

  test("tokens, login codes, cookies and env values never appear in the logs", async () => {
    const link = await api(s(), "POST", "/api/v1/login-links");
    const code = new URL(link.body.url).searchParams.get("code")!;
    const opened = await fetch(link.body.url, { redirect: "manual" });
    const session = (opened.headers.get("set-cookie") ?? "").split(";")[0]!.split("=")[1]!;
    await api(s(), "POST", "/api/v1/projects", { body: { name: "logged", env: { SECRET: "value-that-must-not-leak" } } });
    await api(s(), "GET", "/api/v1/projects/logged?reveal=true");
    await api(s(), "GET", "/api/v1/projects", { token: "opt_guessed-token-value" });
    const all = logLines.join("");
    assert.ok(all.includes("/api/v1/projects"), "requests were logged");
    for (const secret of [token, code, session, "value-that-must-not-leak", "opt_guessed-token-value"]) {
      assert.ok(!all.includes(secret), `log leaks ${secret.slice(0, 6)}…`);
    }
  });
});
