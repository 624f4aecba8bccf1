// Bad input on sandbox routes: a clear 4xx in the error shape, nothing changed; another
// user's sandbox is indistinguishable from a missing one.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { runningSandbox } from "../helpers/sandboxes.ts";
import { api, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

describe("sandbox routes refuse bad input", () => {
  let s: TestServer;
  let box: any;
  let mallory: string;
  before(async () => {
    s = await startTestServer("embedded");
    await api(s, "POST", "/api/v1/projects", { body: { name: "guarded" } });
    box = await runningSandbox(s, "guarded");
    mallory = (await createUser(s, "mallory")).token;
  });
  after(async () => s?.close());

  test("another user cannot see, run in, stop or delete your sandbox, nor create one in your project", async () => {
    const calls: [string, string, unknown?][] = [
      ["GET", `/api/v1/sandboxes/${box.id}`],
      ["GET", `/api/v1/sandboxes/${box.name}`],
      ["POST", `/api/v1/sandboxes/${box.id}/exec`, { command: "id" }],
      ["POST", `/api/v1/sandboxes/${box.id}/stop`],
      ["POST", `/api/v1/sandboxes/${box.id}/restart`],
      ["DELETE", `/api/v1/sandboxes/${box.id}`],
      ["POST", `/api/v1/sandboxes/${box.id}/processes`, { command: "id" }],
      ["GET", `/api/v1/sandboxes/${box.id}/processes`],
    ];
    for (const [method, path, body] of calls) {
      const res = await api(s, method, path, { token: mallory, body });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, "SANDBOX_NOT_FOUND");
    }
    const create = await api(s, "POST", "/api/v1/projects/guarded/sandboxes", { token: mallory });
    assert.equal(create.status, 404);
    assert.equal(create.body.error.code, "PROJECT_NOT_FOUND");
    assert.deepEqual((await api(s, "GET", "/api/v1/sandboxes", { token: mallory })).body.items, []);
    const mine = await api(s, "GET", `/api/v1/sandboxes/${box.id}`);
    assert.equal(mine.body.phase, "running", "nothing happened to it");
  });

  test("malformed references and queries are 400 VALIDATION_FAILED", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/sandboxes/..%2F..%2Fetc"],
      ["GET", `/api/v1/sandboxes/${"x".repeat(65)}`],
      ["POST", "/api/v1/projects/..%2Fx/sandboxes"],
      ["GET", "/api/v1/sandboxes?limit=0"],
      ["GET", "/api/v1/sandboxes?project=a%20b"],
      ["GET", "/api/v1/sandboxes?phase=running"],
      ["DELETE", `/api/v1/sandboxes/${box.id}?keepWorkspace=yes`],
      ["GET", `/api/v1/sandboxes/${box.id}/processes/prc_aaaaaaaaaaaa/logs?after=-1`],
    ] as const) {
      const res = await api(s, method, path);
      assert.equal(res.status, 400, `${method} ${path}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
    }
    assert.equal((await api(s, "GET", `/api/v1/sandboxes/${box.id}`)).body.phase, "running");
  });

  test("a sandbox in a missing project, or a missing sandbox, is 404", async () => {
    assert.equal((await api(s, "POST", "/api/v1/projects/nope/sandboxes")).body.error.code, "PROJECT_NOT_FOUND");
    for (const verb of ["start", "stop", "restart"]) {
      const res = await api(s, "POST", `/api/v1/sandboxes/sbx_missing000000000/${verb}`);
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, "SANDBOX_NOT_FOUND");
    }
  });

  test("a create or verb with a body other than {} is refused and creates or changes nothing", async () => {
    const before = (await api(s, "GET", "/api/v1/sandboxes?limit=500")).body.items.length;
    let deep = "0";
    for (let i = 0; i < 100_000; i++) deep = `[${deep}]`;
    const nested = await api(s, "POST", "/api/v1/projects/guarded/sandboxes", { rawBody: deep, headers: { "content-type": "application/json" } });
    assert.equal(nested.status, 400, JSON.stringify(nested.body));
    const unknown = await api(s, "POST", "/api/v1/projects/guarded/sandboxes", { body: { image: "evil" } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /image|unrecognized|Unrecognized/);
    const verb = await api(s, "POST", `/api/v1/sandboxes/${box.id}/stop`, { body: { force: true } });
    assert.equal(verb.status, 400);
    assert.equal((await api(s, "GET", `/api/v1/sandboxes/${box.id}`)).body.desired, "running", "the refused stop changed nothing");
    assert.equal((await api(s, "GET", "/api/v1/sandboxes?limit=500")).body.items.length, before, "no sandbox was created");
    assert.equal((await api(s, "POST", "/api/v1/projects/guarded/sandboxes", { body: {} })).status, 201, "an empty object is fine");
  });

  test("exec bodies that are too large or have unknown fields change nothing", async () => {
    const big = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "true", stdin: "x".repeat(1024 * 1024 + 1) } });
    assert.equal(big.status, 413);
    const unknown = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "true", runAs: "root" } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /runAs/);
    const badUser = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "true", user: "admin" } });
    assert.equal(badUser.status, 400);
    // Root inside exists only with an environment image; this sandbox is on the host's /usr.
    const noRoot = await api(s, "POST", `/api/v1/sandboxes/${box.id}/exec`, { body: { command: "true", user: "root" } });
    assert.equal(noRoot.status, 409, JSON.stringify(noRoot.body));
    assert.equal(noRoot.body.error.code, "ROOT_UNAVAILABLE");
    assert.match(noRoot.body.error.hint, /environment/);
  });

  test("the OpenAPI document describes the sandbox, exec and process routes", async () => {
    const doc = (await api(s, "GET", "/api/v1/openapi.json")).body;
    for (const [path, method] of [
      ["/api/v1/projects/{id}/sandboxes", "post"],
      ["/api/v1/sandboxes", "get"],
      ["/api/v1/sandboxes/{id}", "delete"],
      ["/api/v1/sandboxes/{id}/restart", "post"],
      ["/api/v1/sandboxes/{id}/exec", "post"],
      ["/api/v1/sandboxes/{id}/processes/{processId}/logs", "get"],
    ] as const) {
      assert.ok(doc.paths[path]?.[method], `${method} ${path}`);
    }
    assert.ok(doc.components.schemas.Sandbox && doc.components.schemas.ExecRequest && doc.components.schemas.Process);
  });
});
