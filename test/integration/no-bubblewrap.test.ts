// A machine without bubblewrap: Outpost starts anyway and its banner names the fix, so does
// `doctor`, and creating a sandbox is a clear 503 that names it too, changing nothing.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { packageRoot } from "../../src/package-root.ts";
import { STACK_FRAME, startOutpost } from "../cli/harness.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

describe("a host without bubblewrap", () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer("external", { bwrapPath: "/nonexistent/bwrap" });
  });
  after(async () => s?.close());

  test("the server starts and creating a sandbox answers 503 with the install command", async () => {
    assert.equal((await api(s, "GET", "/readyz", { token: null })).status, 200);
    assert.equal((await api(s, "POST", "/api/v1/projects", { body: { name: "nobwrap" } })).status, 201);
    const res = await api(s, "POST", "/api/v1/projects/nobwrap/sandboxes");
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, "SANDBOX_RUNTIME_UNAVAILABLE");
    assert.match(res.body.error.message, /apt-get install -y bubblewrap/);
    assert.deepEqual((await api(s, "GET", "/api/v1/sandboxes")).body.items, [], "nothing was created");
  });

  test("outpost serve starts and its banner says sandboxes are unavailable, with the fix", async () => {
    const serve = await startOutpost({ env: { OUTPOST_BWRAP: "/nonexistent/bwrap" } });
    try {
      assert.match(
        serve.banner,
        /^ {2}Sandboxes: unavailable: bubblewrap \(bwrap\) is not installed at \/nonexistent\/bwrap\n {4}fix: apt-get install -y bubblewrap\n/m,
      );
      assert.doesNotMatch(serve.banner, STACK_FRAME);
    } finally {
      await serve.stop();
    }
  });

  test("outpost doctor fails the bubblewrap check with the fix", () => {
    const res = spawnSync(process.execPath, [join(packageRoot(), "bin", "outpost.js"), "doctor", "--data-dir", s.dataDir], {
      env: { ...process.env, OUTPOST_BWRAP: "/nonexistent/bwrap" },
      encoding: "utf8",
    });
    assert.equal(res.status, 1);
    assert.match(res.stdout, /FAIL\s+bubblewrap/);
    assert.match(res.stdout, /fix: apt-get install -y bubblewrap/);
  });
});
