import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { parseExitStatus, readExitStatus, STATUS_MAX_BYTES } from "../../src/drivers/local/exit-status.ts";

// What bwrap 0.8 writes to --json-status-fd, verbatim.
const STARTED = '{ "child-pid": 9029, "cgroup-namespace": 4026532182, "ipc-namespace": 4026532180, "mnt-namespace": 4026532178 }\n';
const EXITED = '{ "exit-code": 3 }\n';

test("the exit code is found among bwrap's concatenated status objects", () => {
  assert.deepEqual(parseExitStatus(STARTED + EXITED), { exitCode: 3 });
  assert.deepEqual(parseExitStatus('{"child-pid":1}{"exit-code":0}'), { exitCode: 0 });
});

test("a sandbox still running, an empty file or garbage has no exit status", () => {
  assert.equal(parseExitStatus(STARTED), null);
  assert.equal(parseExitStatus(""), null);
  assert.equal(parseExitStatus("not json at all }{"), null);
  assert.equal(parseExitStatus('{ "exit-code": "3" }'), null, "not a number");
  assert.equal(parseExitStatus('{ "exit-code": -1 }'), null);
  assert.equal(parseExitStatus('{ "exit-code": 1.5 }'), null);
});

test("garbage around the objects and a torn object are skipped", () => {
  assert.deepEqual(parseExitStatus(`\u0000junk${STARTED}{ "exit-co${EXITED}trailing {`), { exitCode: 3 });
  assert.deepEqual(parseExitStatus('{ "nested": { "exit-code": 9 } }{ "exit-code": 4 }'), { exitCode: 4 });
});

test("readExitStatus reads the file, at most STATUS_MAX_BYTES of it, and answers null when it is missing", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "outpost-status-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "status.json");
  assert.equal(readExitStatus(path), null);
  writeFileSync(path, STARTED + EXITED);
  assert.deepEqual(readExitStatus(path), { exitCode: 3 });
  // An exit object beyond the bound is not read.
  writeFileSync(path, " ".repeat(STATUS_MAX_BYTES) + EXITED);
  assert.equal(readExitStatus(path), null);
  assert.equal(readExitStatus(dir), null, "a folder is not a status file");
});
