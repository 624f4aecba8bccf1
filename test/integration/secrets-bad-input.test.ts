// Bad input to the variables API (`/projects/{id}/secrets`) gets a clear 4xx in the
// documented error shape and changes nothing: not the variables, not the events.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

describe("bad input on project variables", () => {
  let s: TestServer;
  let snapshot: () => Promise<string>;
  before(async () => {
    s = await startTestServer("external");
    await api(s, "POST", "/api/v1/projects", { body: { name: "vars" } });
    await api(s, "POST", "/api/v1/projects/vars/secrets", { body: { name: "KEEP", value: "kept", kind: "secret" } });
    await api(s, "POST", "/api/v1/projects/vars/secrets", { body: { name: "PLAIN", value: "plain", kind: "env" } });
    snapshot = async () => {
      const list = await api(s, "GET", "/api/v1/projects/vars/secrets");
      const events = await api(s, "GET", "/api/v1/events?follow=false");
      return JSON.stringify([list.body, events.body]);
    };
  });
  after(async () => s?.close());

  const bad: [string, unknown, string, number][] = [
    ["an unknown field", { name: "A", value: "v", owner: "me" }, "VALIDATION_FAILED", 400],
    ["a name that is no variable name", { name: "A-B", value: "v" }, "VALIDATION_FAILED", 400],
    ["a name with a path in it", { name: "../etc", value: "v" }, "VALIDATION_FAILED", 400],
    ["an unknown kind", { name: "A", value: "v", kind: "password" }, "VALIDATION_FAILED", 400],
    ["a NUL in the value", { name: "A", value: "a\u0000b" }, "VALIDATION_FAILED", 400],
    ["a value over 32 KiB", { name: "A", value: "x".repeat(33 * 1024) }, "VALIDATION_FAILED", 400],
    ["inject rules on a secret", { name: "A", value: "v", kind: "secret", inject: [{ host: "a.com", header: "x-key" }] }, "VALIDATION_FAILED", 400],
    ["a credential with no inject rule and no known name", { name: "MYSTERY", value: "v", kind: "credential" }, "VALIDATION_FAILED", 400],
    [
      "a credential for a wildcard host",
      { name: "A", value: "v", kind: "credential", inject: [{ host: "*.a.com", header: "x-key" }] },
      "VALIDATION_FAILED",
      400,
    ],
    ["a credential in the Host header", { name: "A", value: "v", kind: "credential", inject: [{ host: "a.com", header: "host" }] }, "VALIDATION_FAILED", 400],
    ["a header name with a newline", { name: "A", value: "v", kind: "credential", inject: [{ host: "a.com", header: "x\r\nevil" }] }, "VALIDATION_FAILED", 400],
    [
      "an unknown inject format",
      { name: "A", value: "v", kind: "credential", inject: [{ host: "a.com", header: "x-key", format: "digest" }] },
      "VALIDATION_FAILED",
      400,
    ],
  ];

  for (const [what, body, code, status] of bad) {
    test(`setting a variable with ${what} is ${code} and changes nothing`, async () => {
      const before = await snapshot();
      const res = await api(s, "POST", "/api/v1/projects/vars/secrets", { body });
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code);
      assert.ok(res.body.error.hint.length > 0);
      assert.equal(await snapshot(), before);
    });
  }

  test("a secret cannot be turned into a plain env variable through PATCH env", async () => {
    const before = await snapshot();
    const res = await api(s, "PATCH", "/api/v1/projects/vars", { body: { env: { KEEP: "now visible" } } });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "VARIABLE_KIND_CONFLICT");
    assert.equal(await snapshot(), before);
  });

  test("unsetting a variable that does not exist is VARIABLE_NOT_FOUND; a bad name is refused", async () => {
    const missing = await api(s, "DELETE", "/api/v1/projects/vars/secrets/NOPE");
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "VARIABLE_NOT_FOUND");
    const badName = await api(s, "DELETE", "/api/v1/projects/vars/secrets/..%2F..");
    assert.equal(badName.status, 400);
  });

  test("another user's project is 404 for listing, setting and unsetting, and changes nothing", async () => {
    const other = await createUser(s, "mallory");
    const before = await snapshot();
    for (const [method, path, body] of [
      ["GET", "/api/v1/projects/vars/secrets", undefined],
      ["POST", "/api/v1/projects/vars/secrets", { name: "X", value: "v" }],
      ["DELETE", "/api/v1/projects/vars/secrets/KEEP", undefined],
    ] as const) {
      const res = await api(s, method, path, { body, token: other.token });
      assert.equal(res.status, 404, `${method} ${path}`);
    }
    assert.equal(await snapshot(), before);
  });

  test("bad egress and usage queries are refused", async () => {
    for (const query of ["?limit=0", "?limit=1001", "?after=-1", "?follow=maybe", "?sort=host"]) {
      const res = await api(s, "GET", `/api/v1/projects/vars/egress${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
    }
  });
});
