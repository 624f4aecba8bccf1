// What the egress side needs at start, said in one line with its fix (never a stack trace):
// an installation CA sealed with another secret key, an unreadable upstream CA file.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { postmasterPid, spawnServe } from "../helpers/process.ts";
import { tempDir } from "../helpers/server.ts";

describe("egress at start-up", () => {
  const dataDir = tempDir();
  after(() => {
    const pid = postmasterPid(dataDir);
    if (pid) process.kill(pid, "SIGINT");
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("the first start makes the installation CA; a start with another secret key says how to fix it", async () => {
    const first = await spawnServe(dataDir);
    first.child.kill("SIGTERM");
    await first.exited;
    assert.ok(existsSync(join(dataDir, "egress-ca", "ca.pem")));

    const wrongKey = randomBytes(32).toString("base64");
    await assert.rejects(spawnServe(dataDir, { OUTPOST_SECRET_KEY: wrongKey }), (error: Error) => {
      assert.match(error.message, /exited \(1\)/);
      assert.match(error.message, /the egress CA in .* cannot be opened/);
      assert.match(error.message, /fix: start with the secret key it was made with/);
      assert.doesNotMatch(error.message, /\n\s+at /, "no stack trace");
      return true;
    });
  });

  test("an unreadable OUTPOST_EGRESS_UPSTREAM_CA stops the start with the fix", async () => {
    await assert.rejects(spawnServe(dataDir, { OUTPOST_EGRESS_UPSTREAM_CA: "/nonexistent/ca.pem" }), (error: Error) => {
      assert.match(error.message, /OUTPOST_EGRESS_UPSTREAM_CA \(\/nonexistent\/ca.pem\) cannot be used/);
      assert.match(error.message, /fix: point OUTPOST_EGRESS_UPSTREAM_CA at a readable PEM file/);
      assert.doesNotMatch(error.message, /\n\s+at /, "no stack trace");
      return true;
    });
  });
});
