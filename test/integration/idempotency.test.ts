// Idempotency-Key on creates: a client whose create request dropped retries with the same
// key and gets the same resource, never a second one; a key reused for another request is
// refused; a malformed key is a 400 that creates nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, BACKENDS, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

const key = (name: string) => ({ "idempotency-key": `${name}-${process.pid}-${Math.random().toString(36).slice(2)}` });

for (const backend of BACKENDS) {
  describe(`Idempotency-Key (${backend} database)`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(backend);
    });
    after(async () => s?.close());

    const count = async () => (await api(s, "GET", "/api/v1/projects?limit=500")).body.items.length;

    test("the same key and body answer the same project; only one exists", async () => {
      const headers = key("same");
      const first = await api(s, "POST", "/api/v1/projects", { body: { name: "once", env: { A: "1" } }, headers });
      const again = await api(s, "POST", "/api/v1/projects", { body: { name: "once", env: { A: "1" } }, headers });
      assert.equal(first.status, 201);
      assert.equal(again.status, 201);
      assert.equal(again.body.id, first.body.id);
      assert.equal((await api(s, "GET", "/api/v1/projects?limit=500")).body.items.filter((p: { name: string }) => p.name === "once").length, 1);
    });

    test("concurrent requests with one key create one project", async () => {
      const headers = key("race");
      const answers = await Promise.all(Array.from({ length: 8 }, () => api(s, "POST", "/api/v1/projects", { body: { name: "raced" }, headers })));
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(8).fill(201),
      );
      assert.equal(new Set(answers.map((a) => a.body.id)).size, 1);
    });

    test("the same key with another body is a 422 and creates nothing", async () => {
      const headers = key("reuse");
      await api(s, "POST", "/api/v1/projects", { body: { name: "first-body" }, headers });
      const before = await count();
      const other = await api(s, "POST", "/api/v1/projects", { body: { name: "second-body" }, headers });
      assert.equal(other.status, 422);
      assert.equal(other.body.error.code, "IDEMPOTENCY_KEY_REUSED");
      assert.match(other.body.error.hint, /new Idempotency-Key/);
      assert.equal(await count(), before);
    });

    test("without a key, two creates are two requests (the second name is taken)", async () => {
      assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "twice" } })).status, 201);
      assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "twice" } })).status, 409);
    });

    test("a malformed key is a 400 that creates nothing", async () => {
      const before = await count();
      for (const bad of ["", "has space", "x".repeat(256), "ünïcode"]) {
        const res = await api(s, "POST", "/api/v1/projects", { body: { name: `bad-key-${before}` }, headers: { "idempotency-key": bad } });
        assert.equal(res.status, 400, `key ${JSON.stringify(bad)}: ${JSON.stringify(res.body)}`);
      }
      assert.equal(await count(), before);
    });

    test("keys are per user: another user's key of the same text is theirs", async () => {
      const headers = key("per-user");
      const mine = await api(s, "POST", "/api/v1/projects", { body: { name: "mine-by-key" }, headers });
      const other = (await createUser(s, "idem-other")).token;
      const theirs = await api(s, "POST", "/api/v1/projects", { body: { name: "theirs-by-key" }, headers, token: other });
      assert.equal(theirs.status, 201);
      assert.notEqual(theirs.body.id, mine.body.id);
    });
  });
}

describe("Idempotency-Key on sandbox creates", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "idem-box" } });
  });
  after(async () => s?.close());

  test("a retried sandbox create answers the same sandbox", async () => {
    const headers = key("box");
    const first = await api(s, "POST", "/api/v1/projects/idem-box/sandboxes", { headers });
    const again = await api(s, "POST", "/api/v1/projects/idem-box/sandboxes", { headers });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(again.body.id, first.body.id);
    const mine = (await api(s, "GET", "/api/v1/sandboxes?project=idem-box")).body.items;
    assert.equal(mine.length, 1);
  });
});
