// `outpost doctor` and `outpost serve`'s start-up failures, as a user meets them. These need
// no running server: doctor checks the machine, and serve is expected to fail.
import assert from "node:assert/strict";
import { chmodSync, existsSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runCli, STACK_FRAME, tempDir } from "./harness.ts";

const dirs: string[] = [];
const freshDir = () => {
  const dir = tempDir();
  dirs.push(dir);
  return dir;
};

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("outpost doctor", () => {
  test("doctor passes on this machine and prints a line for node, postgres and the data dir", async () => {
    const result = await runCli(["doctor"], { OUTPOST_DATA_DIR: freshDir() });
    assert.equal(result.code, 0, result.stdout);
    assert.match(result.stdout, /^ok\s+node\s+Node\.js \d+\.\d+\.\d+$/m);
    assert.match(result.stdout, /^ok\s+postgres\s+postgres \(PostgreSQL\) \d+/m);
    assert.match(result.stdout, /^ok\s+data dir\s+\S+/m);
    assert.doesNotMatch(result.stdout, /FAIL|fix:/);
  });

  test("doctor --json reports every check as ok", async () => {
    const result = await runCli(["doctor", "--json"], { OUTPOST_DATA_DIR: freshDir() });
    assert.equal(result.code, 0, result.stdout);
    const report = JSON.parse(result.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
    assert.equal(report.ok, true);
    for (const name of ["node", "postgres", "data dir"]) {
      assert.equal(report.checks.find((c) => c.name === name)?.ok, true, `check ${name}`);
    }
  });

  test("doctor exits 1 and prints a fix when the PostgreSQL binaries are missing", async () => {
    const result = await runCli(["doctor"], { OUTPOST_DATA_DIR: freshDir(), OUTPOST_PG_BIN: "/nonexistent" });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^FAIL\s+postgres\s+.*\/nonexistent/m);
    assert.match(result.stdout, /^\s+fix: \S.*OUTPOST_PG_BIN/m);
    assert.match(result.stdout, /^ok\s+node/m, "the other checks still run");
    assert.doesNotMatch(`${result.stdout}${result.stderr}`, STACK_FRAME);
  });

  test("doctor exits 1 and prints a fix when the data dir is open to other users", async () => {
    const dir = freshDir();
    chmodSync(dir, 0o777);
    const result = await runCli(["doctor"], { OUTPOST_DATA_DIR: dir });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stdout, /^FAIL\s+data dir\s+/m);
    assert.match(result.stdout, new RegExp(`fix: chmod 700 ${dir}`));
  });
});

describe("outpost serve start-up failures", () => {
  let blocker: Server;
  let takenPort: number;

  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve, reject) => {
      blocker.once("error", reject);
      blocker.listen(0, "127.0.0.1", resolve);
    });
    const address = blocker.address();
    assert.ok(address && typeof address === "object");
    takenPort = address.port;
  });

  after(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  test("serve on a port that is already taken exits 1 with a one-line message and a fix, no stack trace", async () => {
    const dataDir = freshDir();
    const result = await runCli(["serve"], { OUTPOST_DATA_DIR: dataDir, OUTPOST_PORT: String(takenPort), OUTPOST_LOG_LEVEL: "warn" }, 60_000);
    assert.equal(result.code, 1, `stdout: ${result.stdout}\nstderr: ${result.stderr}`);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, result.stderr);
    assert.match(lines[0] ?? "", new RegExp(`^outpost: port ${takenPort} on 127\\.0\\.0\\.1 is already in use$`));
    assert.match(lines[1] ?? "", /^\s+fix: .*OUTPOST_PORT/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
    assert.doesNotMatch(result.stderr, /login\?code=/, "no banner for a server that did not start");
    // The embedded database it started for the attempt is stopped again.
    assert.equal(existsSync(join(dataDir, "postgres", "data", "postmaster.pid")), false, "the embedded PostgreSQL is still running");
  });

  test("serve with an invalid port setting exits 1 with a fix naming OUTPOST_PORT", async () => {
    const result = await runCli(["serve"], { OUTPOST_DATA_DIR: freshDir(), OUTPOST_PORT: "not-a-port" });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^outpost: invalid setting port/m);
    assert.match(result.stderr, /fix: .*OUTPOST_PORT/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });

  test("serve with missing PostgreSQL binaries exits 1 with a fix, no stack trace", async () => {
    const result = await runCli(["serve"], { OUTPOST_DATA_DIR: freshDir(), OUTPOST_PORT: "0", OUTPOST_PG_BIN: "/nonexistent", OUTPOST_LOG_LEVEL: "warn" });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /^outpost: PostgreSQL binary \/nonexistent\/\S+ is missing$/m);
    assert.match(result.stderr, /fix: .*OUTPOST_PG_BIN/);
    assert.doesNotMatch(result.stderr, STACK_FRAME);
  });
});
