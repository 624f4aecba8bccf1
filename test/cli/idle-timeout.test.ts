// `outpost project update <p> --idle-timeout <s>` and what `outpost project get` shows of it,
// as a user runs it: the built binary against a real `outpost serve`.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiJson, type OutpostServer, runCli, startOutpost } from "./harness.ts";

let server: OutpostServer;
const outpost = (...args: string[]) => runCli(args, server.cliEnv);

before(async () => {
  server = await startOutpost();
});

after(async () => {
  await server?.stop();
});

describe("outpost project --idle-timeout", () => {
  test("a new project stops idle sandboxes after 1800 s; update changes it, 0 means never", async () => {
    const created = await outpost("project", "create", "sleepy");
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^idle stop:\s+after 1800 s idle$/m);

    const updated = await outpost("project", "update", "sleepy", "--idle-timeout", "600");
    assert.equal(updated.code, 0, updated.stderr);
    assert.match(updated.stdout, /^idle stop:\s+after 600 s idle$/m);
    const stored = await apiJson<{ idleTimeoutSeconds: number }>(server, "GET", "/api/v1/projects/sleepy");
    assert.equal(stored.body.idleTimeoutSeconds, 600);

    assert.equal((await outpost("project", "update", "sleepy", "--idle-timeout", "0")).code, 0);
    const shown = await outpost("project", "get", "sleepy");
    assert.match(shown.stdout, /^idle stop:\s+never$/m);
  });

  test("a value that is not whole seconds up to a week is refused before any request", async () => {
    for (const bad of ["-5", "1.5", "soon", "604801"]) {
      const result = await outpost("project", "update", "sleepy", `--idle-timeout=${bad}`);
      assert.equal(result.code, 2, `${bad}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /--idle-timeout takes whole seconds from 0 \(never\) to 604800/);
    }
    const stored = await apiJson<{ idleTimeoutSeconds: number }>(server, "GET", "/api/v1/projects/sleepy");
    assert.equal(stored.body.idleTimeoutSeconds, 0, "unchanged");
  });
});
