// What the web UI needs from the server: its built files at `/` (public, cached for good when
// hashed, compressed when the browser accepts it, never a file outside web/dist), a page
// that says how to build it when it is missing, who is signed in (/api/v1/me), and recent
// history without reading it all (`tail` on the events stream and the egress record).
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import Fastify from "fastify";
import { homeRoutes } from "../../src/api/routes/home.ts";
import { insertEgressRecords } from "../../src/store/egress.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

/** A tiny stand-in for web/dist, so these tests do not depend on a UI build. */
function fakeBuild(): string {
  const dir = mkdtempSync(join(tmpdir(), "outpost-web-dist-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
  const js = `console.log(${JSON.stringify("x".repeat(4000))});`;
  writeFileSync(join(dir, "assets", "index-abc123.js"), js);
  writeFileSync(join(dir, "assets", "index-abc123.js.gz"), gzipSync(js));
  writeFileSync(join(dir, "assets", "index-abc123.js.br"), brotliCompressSync(js));
  writeFileSync(join(dir, "assets", "index-def456.css"), "body { color: black }");
  writeFileSync(join(dir, "secret.txt"), "not an asset");
  return dir;
}

describe("serving the built UI", () => {
  let dir: string;
  const app = Fastify();
  before(async () => {
    dir = fakeBuild();
    homeRoutes(app, dir);
    await app.ready();
  });
  after(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("the UI's routes answer index.html, revalidated, with the page's security headers", async () => {
    for (const url of ["/", "/projects", "/projects/shop/variables", "/sandboxes/sbx_1/files"]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.headers["content-type"] as string, /^text\/html/);
      assert.match(res.body, /index-abc123\.js/);
      assert.equal(res.headers["cache-control"], "no-cache");
      assert.match(res.headers["content-security-policy"] as string, /script-src 'self'/);
      assert.match(res.headers["content-security-policy"] as string, /frame-ancestors 'none'/);
    }
    const first = await app.inject({ url: "/" });
    const again = await app.inject({ url: "/", headers: { "if-none-match": first.headers.etag as string } });
    assert.equal(again.statusCode, 304);
  });

  test("hashed assets are cached for good and sent compressed to browsers that accept it", async () => {
    const plain = await app.inject({ url: "/assets/index-abc123.js" });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.match(plain.headers["content-type"] as string, /^text\/javascript/);
    assert.equal(plain.headers["content-encoding"], undefined);
    const br = await app.inject({ url: "/assets/index-abc123.js", headers: { "accept-encoding": "gzip, deflate, br" } });
    assert.equal(br.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), plain.body);
    const gz = await app.inject({ url: "/assets/index-abc123.js", headers: { "accept-encoding": "gzip, br;q=0" } });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gz.rawPayload).toString(), plain.body);
    assert.equal(gz.headers.vary, "accept-encoding");
  });

  test("a fresh server finds every asset of the first page load, requested at once", async () => {
    const fresh = Fastify();
    homeRoutes(fresh, dir);
    const [js, css] = await Promise.all([fresh.inject({ url: "/assets/index-abc123.js" }), fresh.inject({ url: "/assets/index-def456.css" })]);
    assert.equal(js.statusCode, 200);
    assert.equal(css.statusCode, 200);
    assert.match(css.headers["content-type"] as string, /^text\/css/);
    await fresh.close();
  });

  test("nothing but web/dist's assets is served: other files, twins and traversal are 404", async () => {
    for (const url of [
      "/assets/missing.js",
      "/assets/index-abc123.js.br",
      "/assets/../secret.txt",
      "/assets/%2e%2e%2fsecret.txt",
      "/secret.txt",
      "/index.html/x",
    ]) {
      const res = await app.inject({ url });
      assert.equal(res.statusCode, 404, url);
      assert.doesNotMatch(res.body, /not an asset/);
    }
  });

  test("without a build, / says in one line how to build the UI", async () => {
    const bare = Fastify();
    homeRoutes(bare, join(dir, "nothing-here"));
    const res = await bare.inject({ url: "/" });
    assert.equal(res.statusCode, 503);
    assert.match(res.body, /The web UI is not built: run <code>npm install<\/code>.*<code>npm run build<\/code>/);
    assert.equal(res.body.split("\n").length, 1);
    await bare.close();
  });
});

describe("the API the UI reads", () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer("embedded");
  });
  after(async () => {
    await server?.close();
  });

  test("the UI's files are public; /api/v1/me answers who is signed in, and 401 to nobody", async () => {
    const me = await api(server, "GET", "/api/v1/me");
    assert.equal(me.status, 200);
    assert.equal(me.body.name, "admin");
    assert.equal(me.body.isAdmin, true);
    assert.equal((await api(server, "GET", "/api/v1/me", { token: null })).status, 401);
    assert.notEqual((await api(server, "GET", "/projects/anything", { token: null })).status, 401);
    assert.equal((await api(server, "GET", "/api/v1/projects", { token: null })).status, 401, "the API stays closed");
  });

  test("`tail` starts the events stream with the last N events; a resume ignores it", async () => {
    for (const name of ["tail-a", "tail-b", "tail-c"]) assert.equal((await api(server, "POST", "/api/v1/projects", { body: { name } })).status, 201);
    const events = async (query: string) => {
      const res = await fetch(`${server.url}/api/v1/events?follow=false&${query}`, { headers: { authorization: `Bearer ${server.token}` } });
      assert.equal(res.status, 200);
      return [...(await res.text()).matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]!) as { id: number; data: { name: string } });
    };
    const all = await events("");
    assert.ok(all.length >= 3);
    const tail = await events("tail=2");
    assert.deepEqual(
      tail.map((e) => e.data.name),
      ["tail-b", "tail-c"],
    );
    assert.deepEqual(await events(`tail=2&after=${all[0]!.id}`), all.slice(1), "after wins over tail");
    assert.equal((await events("tail=1000")).length, all.length);
    const one = await api(server, "GET", "/api/v1/events?tail=0&follow=false");
    assert.equal(one.status, 400);
  });

  test("`tail` on the egress record gives its latest connections", async () => {
    const project = await api(server, "POST", "/api/v1/projects", { body: { name: "tail-egress" } });
    const records = ["a.example", "b.example", "c.example", "d.example"].map((host) => ({
      projectId: project.body.id,
      sandboxId: "sbx_test",
      host,
      port: 443,
      method: "CONNECT",
      allowed: true,
      rule: "open",
      reason: null,
      address: null,
      startedAt: new Date(),
    }));
    await insertEgressRecords(server.server.pool, records);
    const latest = await api(server, "GET", `/api/v1/projects/${project.body.id}/egress?tail=2`);
    assert.equal(latest.status, 200);
    assert.deepEqual(
      latest.body.items.map((r: { host: string }) => r.host),
      ["c.example", "d.example"],
    );
    const oldest = await api(server, "GET", `/api/v1/projects/${project.body.id}/egress?limit=2`);
    assert.deepEqual(
      oldest.body.items.map((r: { host: string }) => r.host),
      ["a.example", "b.example"],
    );
  });
});
