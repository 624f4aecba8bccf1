// POST /v1/exec for commands that finish: argv and shell forms, exit codes, stdout and
// stderr, stdin, cwd, env, and commands that cannot start.
import assert from "node:assert/strict";
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Daemon, execCollect, startDaemon, stopAllDaemons } from "./helpers.ts";

let daemon: Daemon;
before(async () => {
  daemon = await startDaemon();
});
after(stopAllDaemons);

describe("exec", () => {
  test("an argv array runs without a shell: metacharacters reach the program as they are", async () => {
    const result = await execCollect(daemon.client, { command: ["printf", "%s|", "a b", "$HOME", "*"] });
    assert.equal(result.stdout, "a b|$HOME|*|");
    assert.deepEqual(result.exit.exitCode, 0);
  });

  test("a string runs through sh -c", async () => {
    const result = await execCollect(daemon.client, { command: "echo one && echo two | tr a-z A-Z" });
    assert.equal(result.stdout, "one\nTWO\n");
  });

  test("the stream is started, then output, then exactly one exit line with duration", async () => {
    const result = await execCollect(daemon.client, { command: "echo hi" });
    assert.equal(result.events[0]?.type, "started");
    assert.ok(result.pid > 0);
    assert.equal(result.events.filter((event) => event.type === "exit").length, 1);
    assert.deepEqual({ ...result.exit, durationMs: 0 }, { type: "exit", exitCode: 0, signal: null, timedOut: false, durationMs: 0 });
    assert.ok(result.exit.durationMs >= 0);
  });

  test("the exit code of the command is reported", async () => {
    assert.equal((await execCollect(daemon.client, { command: "exit 7" })).exit.exitCode, 7);
    assert.equal((await execCollect(daemon.client, { command: ["false"] })).exit.exitCode, 1);
  });

  test("a command killed by a signal reports the signal and no exit code", async () => {
    const result = await execCollect(daemon.client, { command: "kill -USR1 $$" });
    assert.equal(result.exit.exitCode, null);
    assert.equal(result.exit.signal, "SIGUSR1");
  });

  test("stderr is streamed apart from stdout", async () => {
    const result = await execCollect(daemon.client, { command: "echo out; echo err >&2" });
    assert.equal(result.stdout, "out\n");
    assert.equal(result.stderr, "err\n");
  });

  test("binary output survives unchanged (base64 on the wire)", async () => {
    const result = await execCollect(daemon.client, { command: ["printf", "\\000\\377\\n"] });
    const bytes = Buffer.concat(result.events.flatMap((event) => (event.type === "stdout" ? [Buffer.from(event.data, "base64")] : [])));
    assert.deepEqual([...bytes], [0, 255, 10]);
  });

  test("stdin is written to the command and then closed", async () => {
    const result = await execCollect(daemon.client, { command: ["wc", "-l"], stdin: "a\nb\nc\n" });
    assert.equal(result.stdout.trim(), "3");
  });

  test("without stdin the command reads end-of-file at once instead of hanging", async () => {
    const result = await execCollect(daemon.client, { command: ["cat"] });
    assert.equal(result.stdout, "");
    assert.equal(result.exit.exitCode, 0);
  });

  test("the default cwd is the workspace, and a relative cwd is resolved under it", async () => {
    mkdirSync(join(daemon.workspace, "sub", "dir"), { recursive: true });
    const workspace = realpathSync(daemon.workspace);
    assert.equal((await execCollect(daemon.client, { command: ["pwd", "-P"] })).stdout.trim(), workspace);
    assert.equal((await execCollect(daemon.client, { command: ["pwd", "-P"], cwd: "sub/dir" })).stdout.trim(), join(workspace, "sub", "dir"));
    assert.equal((await execCollect(daemon.client, { command: ["pwd", "-P"], cwd: "/" })).stdout.trim(), "/");
  });

  test("env adds to and overrides the supervisor's environment", async () => {
    const result = await execCollect(daemon.client, {
      command: 'echo "$GREETING:$PATH_SET"',
      env: { GREETING: "hello world", PATH_SET: process.env.PATH ? "yes" : "no" },
    });
    assert.equal(result.stdout, "hello world:yes\n");
    const path = await execCollect(daemon.client, { command: ["/usr/bin/env"], env: { PATH: "/nowhere" } });
    assert.match(path.stdout, /^PATH=\/nowhere$/m);
  });

  test("an executable that does not exist is 422 COMMAND_NOT_FOUND before any streaming", async () => {
    await assert.rejects(daemon.client.exec({ command: ["definitely-not-a-command-xyz"] }), { code: "COMMAND_NOT_FOUND", status: 422 });
  });

  test("through sh -c a missing command is an ordinary exit with code 127", async () => {
    const result = await execCollect(daemon.client, { command: "definitely-not-a-command-xyz" });
    assert.equal(result.exit.exitCode, 127);
    assert.match(result.stderr, /not found/);
  });

  test("a cwd that does not exist is 422 CWD_NOT_FOUND (not a misleading COMMAND_NOT_FOUND)", async () => {
    await assert.rejects(daemon.client.exec({ command: ["true"], cwd: "no/such/dir" }), { code: "CWD_NOT_FOUND", status: 422 });
  });

  test("a file that is not executable is 422 COMMAND_NOT_EXECUTABLE", async () => {
    const file = join(daemon.workspace, "not-executable");
    writeFileSync(file, "echo never\n", { mode: 0o644 });
    await assert.rejects(daemon.client.exec({ command: [file] }), { code: "COMMAND_NOT_EXECUTABLE", status: 422 });
  });
});
