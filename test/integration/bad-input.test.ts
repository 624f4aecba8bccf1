// Bad input gets a clear 4xx in the documented error shape and changes nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, BACKENDS, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

function assertErrorShape(body: any, code: string): void {
  assert.equal(body?.error?.code, code, JSON.stringify(body));
  assert.equal(typeof body.error.message, "string");
  assert.equal(typeof body.error.hint, "string");
  assert.ok(body.error.hint.length > 0, "a hint says what to do");
  assert.equal(typeof body.error.retryable, "boolean");
  assert.equal(typeof body.error.details, "object");
  assert.match(body.error.requestId, /^req_/);
  assert.ok(!/\n\s+at /.test(JSON.stringify(body)), "no stack trace");
}

for (const backend of BACKENDS) {
  describe(`bad input (${backend} database)`, () => {
    let s: TestServer;
    let snapshot: () => Promise<string>;
    before(async () => {
      s = await startTestServer(backend);
      await api(s, "POST", "/api/v1/projects", { body: { name: "keep", env: { A: "1" } } });
      snapshot = async () => {
        const list = await api(s, "GET", "/api/v1/projects?limit=500");
        const revealed = await Promise.all(list.body.items.map((p: { id: string }) => api(s, "GET", `/api/v1/projects/${p.id}?reveal=true`)));
        const events = await api(s, "GET", "/api/v1/events?follow=false");
        return JSON.stringify([revealed.map((r) => r.body), events.body]);
      };
    });
    after(async () => s?.close());

    const badCreates: [string, unknown, string][] = [
      ["an unknown field", { name: "x1", owner: "me" }, "VALIDATION_FAILED"],
      ["a wrong type", { name: 42 }, "VALIDATION_FAILED"],
      ["a missing name", {}, "VALIDATION_FAILED"],
      ["a name that is not DNS-safe", { name: "My_Project" }, "VALIDATION_FAILED"],
      ["a path traversal name", { name: "../../etc" }, "VALIDATION_FAILED"],
      ["a name over 40 characters", { name: "a".repeat(41) }, "VALIDATION_FAILED"],
      ["an ext:: repository URL", { name: "x2", repoUrl: "ext::sh -c id" }, "VALIDATION_FAILED"],
      ["a file:// repository URL", { name: "x3", repoUrl: "file:///etc/passwd" }, "VALIDATION_FAILED"],
      ["a repository URL with a token", { name: "x4", repoUrl: "https://x:ghp_abc@github.com/a/b" }, "VALIDATION_FAILED"],
      ["an option-like branch", { name: "x5", defaultBranch: "--upload-pack=evil" }, "VALIDATION_FAILED"],
      ["a bad env name", { name: "x6", env: { "A-B": "1" } }, "VALIDATION_FAILED"],
      ["a non-string env value", { name: "x7", env: { A: 1 } }, "VALIDATION_FAILED"],
      ["a bad egress domain", { name: "x8", egress: { allow: ["http://evil.com"] } }, "VALIDATION_FAILED"],
      ["an unknown egress level", { name: "x15", egress: { level: "sometimes" } }, "VALIDATION_FAILED"],
      ["the host machine without a port", { name: "x16", egress: { allow: ["host.outpost.internal"] } }, "VALIDATION_FAILED"],
      ["an egress port out of range", { name: "x17", egress: { allow: [{ host: "a.com", port: 70000 }] } }, "VALIDATION_FAILED"],
      ["an unknown field in an egress rule", { name: "x18", egress: { deny: [{ host: "a.com", path: "/" }] } }, "VALIDATION_FAILED"],
      ["a wildcard on an IP address", { name: "x19", egress: { allow: ["*.10.0.0.1"] } }, "VALIDATION_FAILED"],
      ["a number-ended host that is no IP address", { name: "x20", egress: { allow: ["10.0.0.256"] } }, "VALIDATION_FAILED"],
      ["257 egress rules", { name: "x21", egress: { allow: Array.from({ length: 257 }, (_, i) => `h${i}.example.com`) } }, "VALIDATION_FAILED"],
      ["a negative token budget", { name: "x22", tokenBudget: -1 }, "VALIDATION_FAILED"],
      ["an unknown database kind", { name: "x9", database: "mysql" }, "VALIDATION_FAILED"],
      ["a duplicate name", { name: "keep" }, "PROJECT_NAME_TAKEN"],
      ["a JSON array body", [], "VALIDATION_FAILED"],
      ["a NUL character in the instructions", { name: "x10", instructions: "a\u0000b" }, "VALIDATION_FAILED"],
      ["a NUL character in an env value", { name: "x11", env: { A: "\u0000" } }, "VALIDATION_FAILED"],
      ["201 env variables", { name: "x12", env: manyVars(201, "v", 0) }, "VALIDATION_FAILED"],
      ["an env of 300 KiB in all (each value within its own limit)", { name: "x13", env: manyVars(10, "x".repeat(30 * 1024)) }, "VALIDATION_FAILED"],
      ["an env of 300 KiB in all once encoded as UTF-8", { name: "x14", env: manyVars(4, "€".repeat(25 * 1024)) }, "VALIDATION_FAILED"],
    ];

    for (const [what, body, code] of badCreates) {
      test(`creating a project with ${what} is refused with ${code} and changes nothing`, async () => {
        const before = await snapshot();
        const res = await api(s, "POST", "/api/v1/projects", { body });
        assert.equal(res.status, code === "PROJECT_NAME_TAKEN" ? 409 : 400);
        assertErrorShape(res.body, code);
        assert.equal(await snapshot(), before);
      });
    }

    test("a PATCH whose merged env would pass the project's bounds is refused and changes nothing", async () => {
      // Each PATCH alone is small; what counts is the environment it would leave.
      const first = await api(s, "PATCH", "/api/v1/projects/keep", { body: { env: manyVars(8, "y".repeat(30 * 1024), 100) } });
      assert.equal(first.status, 200, JSON.stringify(first.body));
      const before = await snapshot();
      const res = await api(s, "PATCH", "/api/v1/projects/keep", { body: { env: manyVars(2, "z".repeat(30 * 1024), 200) } });
      assert.equal(res.status, 400);
      assertErrorShape(res.body, "VALIDATION_FAILED");
      assert.match(res.body.error.message, /256 KiB/);
      assert.equal(await snapshot(), before);
      const removed = Object.fromEntries(Object.keys(manyVars(8, "", 100)).map((name) => [name, null]));
      assert.equal((await api(s, "PATCH", "/api/v1/projects/keep", { body: { env: removed } })).status, 200);
    });

    test("malformed JSON is INVALID_JSON (400)", async () => {
      const res = await api(s, "POST", "/api/v1/projects", { rawBody: '{"name": "x",', headers: { "content-type": "application/json" } });
      assert.equal(res.status, 400);
      assertErrorShape(res.body, "INVALID_JSON");
    });

    test("a body over 1 MiB is PAYLOAD_TOO_LARGE (413) and the server keeps serving", async () => {
      const before = await snapshot();
      const res = await api(s, "POST", "/api/v1/projects", { body: { name: "big", instructions: "x".repeat(1024 * 1024 + 10) } });
      assert.equal(res.status, 413);
      assertErrorShape(res.body, "PAYLOAD_TOO_LARGE");
      assert.equal(await snapshot(), before);
      assert.equal((await api(s, "GET", "/healthz")).status, 200);
    });

    test("a non-JSON content type is UNSUPPORTED_MEDIA_TYPE (415)", async () => {
      const res = await api(s, "POST", "/api/v1/projects", { rawBody: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } });
      assert.equal(res.status, 415);
      assertErrorShape(res.body, "UNSUPPORTED_MEDIA_TYPE");
    });

    test("renaming through PATCH is refused: the name is immutable", async () => {
      const before = await snapshot();
      const res = await api(s, "PATCH", "/api/v1/projects/keep", { body: { name: "other" } });
      assert.equal(res.status, 400);
      assertErrorShape(res.body, "VALIDATION_FAILED");
      assert.equal(await snapshot(), before);
    });

    test("unknown query parameters and bad limits are refused", async () => {
      assertErrorShape((await api(s, "GET", "/api/v1/projects?limit=0")).body, "VALIDATION_FAILED");
      assertErrorShape((await api(s, "GET", "/api/v1/projects?limit=501")).body, "VALIDATION_FAILED");
      assertErrorShape((await api(s, "GET", "/api/v1/projects?sort=name")).body, "VALIDATION_FAILED");
      assertErrorShape((await api(s, "GET", "/api/v1/projects?cursor=bm9wZQ")).body, "INVALID_CURSOR");
    });

    test("references with traversal, NUL or quote characters are refused as invalid", async () => {
      for (const ref of ["..%2F..%2Fetc%2Fpasswd", "%00", "a%27%20or%201%3D1", "x".repeat(65)]) {
        const res = await api(s, "GET", `/api/v1/projects/${ref}`);
        assert.equal(res.status, 400, ref);
        assertErrorShape(res.body, "VALIDATION_FAILED");
      }
    });

    test("a well-formed reference to nothing is PROJECT_NOT_FOUND", async () => {
      const res = await api(s, "GET", "/api/v1/projects/prj_doesnotexist00");
      assert.equal(res.status, 404);
      assertErrorShape(res.body, "PROJECT_NOT_FOUND");
    });

    test("an unknown route is ROUTE_NOT_FOUND in the same shape", async () => {
      const res = await api(s, "GET", "/api/v1/nope");
      assert.equal(res.status, 404);
      assertErrorShape(res.body, "ROUTE_NOT_FOUND");
    });

    test("another user's project is 404 for reading, changing and deleting", async () => {
      const own = await api(s, "GET", "/api/v1/projects/keep");
      const other = await otherUser(s);
      for (const [method, body] of [
        ["GET", undefined],
        ["PATCH", { instructions: "mine now" }],
        ["DELETE", undefined],
      ] as const) {
        for (const ref of [own.body.id, "keep"]) {
          const res = await api(s, method, `/api/v1/projects/${ref}`, { token: other, body });
          assert.equal(res.status, 404, `${method} ${ref}`);
          assertErrorShape(res.body, "PROJECT_NOT_FOUND");
        }
      }
      assert.deepEqual((await api(s, "GET", "/api/v1/projects", { token: other })).body.items, []);
      const theirEvents = await api(s, "GET", "/api/v1/events?follow=false", { token: other });
      assert.ok(!theirEvents.body, "no events of other users");
      assert.deepEqual((await api(s, "GET", "/api/v1/projects/keep")).body, own.body);
    });
  });
}

/** `count` variables V<from>… all holding `value`. */
function manyVars(count: number, value: string, from = 0): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`V${from + i}`, value]));
}

/** A second user with a token, made through the admin API. */
async function otherUser(s: TestServer): Promise<string> {
  return (await createUser(s, "mallory")).token;
}
