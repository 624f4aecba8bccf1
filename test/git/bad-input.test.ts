// Bad input on the git routes that need no sandbox to refuse it: a project's git settings, its
// deploy key and a pull request's body. Each is a 400 in the documented error shape with a
// hint, and changes nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("git: bad input", () => {
  let s: TestServer;
  const refused = (res: { status: number; body: any }, what: string) => {
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.error.code, "VALIDATION_FAILED", what);
    assert.ok(res.body.error.hint, what);
  };

  before(async () => {
    s = await startTestServer("embedded");
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "gitbad" } })).status, 201);
  });
  after(async () => s?.close());

  test("git settings: a bad identity, token variable or known_hosts text is refused and nothing changes", async () => {
    const before = (await api(s, "GET", "/api/v1/projects/gitbad")).body.git;
    for (const git of [
      { identity: { name: "Bot", email: "not-an-email" } },
      { identity: { name: "Evil <x@y>\nCo-authored-by: z", email: "a@b.c" } },
      { identity: { name: "Bot" } },
      { tokenVariable: "1-BAD NAME" },
      { knownHosts: "this is not a host key line" },
      { knownHosts: "example.com ssh-ed25519 \u0000AAAA" },
      { signingKey: "x" },
    ]) {
      refused(await api(s, "PATCH", "/api/v1/projects/gitbad", { body: { git } }), JSON.stringify(git));
    }
    assert.deepEqual((await api(s, "GET", "/api/v1/projects/gitbad")).body.git, before);
  });

  test("deploy key: a body with fields is refused, and no key is made", async () => {
    refused(await api(s, "POST", "/api/v1/projects/gitbad/git/deploy-key", { body: { privateKey: "mine" } }), "privateKey");
    assert.equal((await api(s, "GET", "/api/v1/projects/gitbad/git/deploy-key")).status, 404);
  });

  test("pull request: wrong types, unknown fields, option-like or huge values are refused before anything runs", async () => {
    for (const body of [
      { title: "" },
      { title: "x".repeat(300) },
      { base: "--force" },
      { base: "a..b" },
      { draft: "yes" },
      { conversationId: "../cnv" },
      { head: "main" },
    ]) {
      refused(await api(s, "POST", "/api/v1/sandboxes/sbx_nothing000000000/git/pull-request", { body }), JSON.stringify(body));
    }
  });
});
