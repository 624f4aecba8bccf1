// Projects through the real HTTP API, against the embedded PostgreSQL and the machine's.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { api, BACKENDS, startTestServer, type TestServer } from "../helpers/server.ts";

for (const backend of BACKENDS) {
  describe(`projects API (${backend} database)`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(backend);
    });
    after(async () => s?.close());

    test("creating a project returns 201 with the resource, env names but no values", async () => {
      const res = await api(s, "POST", "/api/v1/projects", {
        body: { name: "shop", repoUrl: "https://github.com/acme/shop.git", defaultBranch: "main", instructions: "Be tidy.", env: { API_KEY: "sk-123" } },
      });
      assert.equal(res.status, 201);
      assert.match(res.body.id, /^prj_/);
      assert.equal(res.body.name, "shop");
      assert.equal(res.body.repoUrl, "https://github.com/acme/shop.git");
      assert.deepEqual(res.body.env, [{ name: "API_KEY" }]);
      assert.deepEqual(res.body.egress, { level: "registries", allow: [], deny: [] });
      assert.equal(res.body.tokenBudget, null);
      assert.equal(res.body.database, "none");
      assert.ok(!JSON.stringify(res.body).includes("sk-123"));
    });

    test("a project is found by id and by name; env values only with ?reveal=true", async () => {
      const byName = await api(s, "GET", "/api/v1/projects/shop");
      assert.equal(byName.status, 200);
      const byId = await api(s, "GET", `/api/v1/projects/${byName.body.id}`);
      assert.deepEqual(byId.body, byName.body);
      const revealed = await api(s, "GET", "/api/v1/projects/shop?reveal=true");
      assert.deepEqual(revealed.body.env, [{ name: "API_KEY", value: "sk-123" }]);
    });

    test("env values are encrypted in the database, not stored in plain text", async () => {
      const pool = new pg.Pool(s.server.database.kind === "embedded" ? s.server.database.server.connectionFor("outpost") : { connectionString: s.databaseUrl });
      try {
        const { rows } = await pool.query("select value_enc from project_env");
        assert.equal(rows.length, 1);
        assert.ok(!rows[0].value_enc.includes("sk-123"));
        assert.match(rows[0].value_enc, /^v1:/);
      } finally {
        await pool.end();
      }
    });

    test("PATCH updates fields and merges env (null removes a variable)", async () => {
      const res = await api(s, "PATCH", "/api/v1/projects/shop", {
        body: { defaultBranch: "develop", env: { API_KEY: null, DB_HOST: "db" }, egress: { allow: ["api.github.com", { host: "*.npmjs.org", port: 443 }] } },
      });
      assert.equal(res.status, 200);
      assert.equal(res.body.defaultBranch, "develop");
      assert.deepEqual(res.body.env, [{ name: "DB_HOST" }]);
      assert.deepEqual(res.body.egress, { level: "registries", allow: [{ host: "api.github.com" }, { host: "*.npmjs.org", port: 443 }], deny: [] });
      assert.ok(Date.parse(res.body.updatedAt) >= Date.parse(res.body.createdAt));
      const cleared = await api(s, "PATCH", "/api/v1/projects/shop", { body: { repoUrl: null } });
      assert.equal(cleared.body.repoUrl, null);
    });

    test("lists page through every project exactly once with nextCursor", async () => {
      for (let i = 0; i < 7; i++) assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: `page-${i}` } })).status, 201);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { status: number; body: { items: { name: string }[]; nextCursor: string | null } } = await api(
          s,
          "GET",
          `/api/v1/projects?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
        );
        assert.equal(res.status, 200);
        assert.ok(res.body.items.length <= 3);
        seen.push(...res.body.items.map((p) => p.name));
        cursor = res.body.nextCursor;
      } while (cursor);
      assert.deepEqual(seen, ["shop", ...Array.from({ length: 7 }, (_, i) => `page-${i}`)]);
    });

    test("deleting a project answers 204 and it is gone", async () => {
      assert.equal((await api(s, "DELETE", "/api/v1/projects/page-0")).status, 204);
      const gone = await api(s, "GET", "/api/v1/projects/page-0");
      assert.equal(gone.status, 404);
      assert.equal(gone.body.error.code, "PROJECT_NOT_FOUND");
      assert.equal((await api(s, "DELETE", "/api/v1/projects/page-0")).status, 404);
    });

    test("create, update and delete each append an event", async () => {
      const res = await api(s, "GET", "/api/v1/events?follow=false");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
      const types = [...String(res.body).matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
      assert.deepEqual(types.slice(0, 3), ["project.created", "project.updated", "project.updated"]);
      assert.ok(types.includes("project.deleted"));
    });
  });
}
