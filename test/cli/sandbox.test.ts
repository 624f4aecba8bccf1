// `outpost sandbox …` and `outpost exec` as a user runs them, against a real server with
// real bubblewrap sandboxes.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { apiJson, type OutpostServer, runCli, STACK_FRAME, startOutpost } from "./harness.ts";

describe("outpost sandbox and outpost exec", () => {
  let server: OutpostServer;
  let name: string;
  const cli = (...args: string[]) => runCli(args, server.cliEnv, 90_000);

  before(async () => {
    server = await startOutpost();
    assert.equal((await cli("project", "create", "clip")).code, 0);
  });
  after(async () => {
    if (!server) return;
    const list = await apiJson<{ items: { id: string }[] }>(server, "GET", "/api/v1/sandboxes");
    for (const box of list.body?.items ?? []) await cli("sandbox", "delete", box.id);
    await server.stop();
  });

  test("sandbox create shows each stage as it completes and returns once the sandbox runs", async () => {
    const res = await cli("sandbox", "create", "clip");
    assert.equal(res.code, 0, res.stderr);
    for (const stage of ["workspace", "isolation", "supervisor", "ready"]) assert.match(res.stderr, new RegExp(`✓ ${stage}`), res.stderr);
    const match = /(clip-[a-z0-9]{6}) is running/.exec(res.stderr);
    assert.ok(match, res.stderr);
    name = match[1]!;
    const list = await cli("sandbox", "list");
    assert.match(list.stdout, new RegExp(`${name}\\s+sbx_\\w+\\s+running`));
    const json = await cli("sandbox", "get", name, "--json");
    assert.equal(JSON.parse(json.stdout).phase, "running");
  });

  test("exec streams the command's output and exits with the command's own code", async () => {
    const res = await cli("exec", name, "--", "sh", "-c", "echo out; echo err >&2; exit 5");
    assert.equal(res.code, 5);
    assert.equal(res.stdout, "out\n");
    assert.equal(res.stderr, "err\n");
    const env = await cli("exec", name, "--env", "WHO=you", "--cwd", "/tmp", "--", "sh", "-c", 'echo "$WHO in $(pwd)"');
    assert.deepEqual([env.code, env.stdout], [0, "you in /tmp\n"]);
  });

  test("exec reports a timeout as 124 and bad usage as 2", async () => {
    assert.equal((await cli("exec", name, "--timeout", "200", "--", "sleep", "30")).code, 124);
    assert.equal((await cli("exec", name, "ls")).code, 2, "the command must follow --");
    assert.equal((await cli("exec", "--", "ls")).code, 2, "a sandbox is needed");
  });

  test("stop and start keep the files; exec on a stopped sandbox says so without a stack trace", async () => {
    await cli("exec", name, "--", "sh", "-c", "echo kept > /workspace/f");
    const stop = await cli("sandbox", "stop", name);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stderr, /is stopped/);
    const refused = await cli("exec", name, "--", "true");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /stopped.*start it first/);
    assert.doesNotMatch(refused.stderr, STACK_FRAME);
    assert.equal((await cli("sandbox", "start", name)).code, 0);
    assert.equal((await cli("exec", name, "--", "cat", "/workspace/f")).stdout, "kept\n");
  });

  test("process start, list, logs and kill drive a background process", async () => {
    const started = await cli("process", "start", name, "--name", "ticker", "--json", "--", "sh", "-c", "echo one; echo two >&2; sleep 600");
    assert.equal(started.code, 0, started.stderr);
    const proc = JSON.parse(started.stdout);
    assert.match(proc.id, /^prc_/);
    const list = await cli("process", "list", name);
    assert.match(list.stdout, new RegExp(`${proc.id}\\s+ticker\\s+running`));
    const killed = await cli("process", "kill", name, proc.id, "--signal", "SIGKILL");
    assert.equal(killed.code, 0, killed.stderr);
    assert.match(killed.stderr, new RegExp(`^SIGKILL sent to ${proc.id}\n$`));
    assert.match(killed.stdout, /status:\s+exited/, "kill waits for the end instead of showing a stale 'running'");
    const logs = await cli("process", "logs", name, proc.id);
    assert.equal(logs.code, 0, logs.stderr);
    assert.equal(logs.stdout, "one\n");
    assert.equal(logs.stderr, "two\n");
    const got = await cli("process", "get", name, proc.id, "--json");
    assert.equal(JSON.parse(got.stdout).signal, "SIGKILL");
    assert.equal((await cli("process", "start", name, "sleep")).code, 2, "the command must follow --");
    assert.equal((await cli("process", "get", name, "prc_aaaaaaaaaaaa")).code, 1);
  });

  test("delete waits until the sandbox is gone; an unknown sandbox is exit 1", async () => {
    const res = await cli("sandbox", "delete", name);
    assert.equal(res.code, 0, res.stderr);
    assert.doesNotMatch(res.stderr, /✓ (workspace|supervisor)/, "provisioning stages that ended before the delete are not shown again");
    assert.match(res.stderr, /is deleted/);
    const missing = await cli("sandbox", "get", name);
    assert.equal(missing.code, 0, "a deleted sandbox can still be looked at");
    assert.match(missing.stdout, /deleted/);
    const unknown = await cli("sandbox", "get", "nope-000000");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /No sandbox 'nope-000000'/);
  });
});
