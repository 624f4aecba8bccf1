// Bad input on the member and user routes: a clear 400 in the error shape (naming the
// field, with a hint) that changes nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, createUser, startTestServer, type TestServer } from "../helpers/server.ts";

describe("member and user routes refuse bad input", () => {
  let s: TestServer;
  let bobId: string;
  before(async () => {
    s = await startTestServer("external");
    await api(s, "POST", "/api/v1/projects", { body: { name: "guarded" } });
    bobId = (await createUser(s, "bob")).id;
  });
  after(async () => s?.close());

  const members = async () =>
    (await api(s, "GET", "/api/v1/projects/guarded/members")).body.items.map((m: { userId: string; role: string }) => `${m.userId}:${m.role}`);
  const users = async () => (await api(s, "GET", "/api/v1/users?limit=500")).body.items.length;

  test("a member body with an unknown role, an unknown field, or a user id of the wrong shape is a 400", async () => {
    const before = await members();
    for (const body of [
      { userId: bobId, role: "root" },
      { userId: bobId, role: "viewer", admin: true },
      { userId: "../usr_x", role: "viewer" },
      { userId: `usr_${"a".repeat(100)}`, role: "viewer" },
      { role: "viewer" },
    ]) {
      const res = await api(s, "POST", "/api/v1/projects/guarded/members", { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
      assert.ok(res.body.error.hint, "the error says what to do");
    }
    assert.deepEqual(await members(), before, "nothing changed");
  });

  test("a member path with a reference that is not an id or a name is a 400", async () => {
    const res = await api(s, "DELETE", "/api/v1/projects/guarded/members/..%2Fetc");
    assert.equal(res.status, 400);
  });

  test("user names that are not DNS-safe, look like ids, or are too long are refused and create nothing", async () => {
    const before = await users();
    for (const name of ["", "../bob", "bob smith", "usr_abcdef", "x".repeat(65), "-dash"]) {
      const res = await api(s, "POST", "/api/v1/users", { body: { name } });
      assert.equal(res.status, 400, name);
      assert.equal(res.body.error.code, "VALIDATION_FAILED");
    }
    assert.equal((await api(s, "POST", "/api/v1/users", { body: { name: "carol", isAdmin: true } })).status, 400, "unknown fields are refused");
    assert.equal(await users(), before);
  });

  test("a token body that is empty or too long is a 400 and mints nothing", async () => {
    for (const body of [{}, { name: "" }, { name: "x".repeat(101) }, { name: "ci", scopes: ["all"] }]) {
      const res = await api(s, "POST", `/api/v1/users/${bobId}/tokens`, { body });
      assert.equal(res.status, 400, JSON.stringify(body));
    }
  });
});
