import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ensureOptions, isRoot, shIn, specFor, testBed } from "./helpers.ts";

test("a file written in /workspace lands in <root>/<id>/workspace on the host, owned by the sandbox's host uid", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("files");
  const { supervisorSocket } = await driver.ensure(spec, ensureOptions());

  const result = await shIn(supervisorSocket, "pwd; id -u; echo hello > /workspace/note.txt; echo cfg > $HOME/.agentrc");
  assert.equal(result.exitCode, 0, result.stderr);
  assert.equal(result.stdout, "/workspace\n1000\n");

  const dir = join(root, spec.sandboxId);
  const note = join(dir, "workspace", "note.txt");
  assert.equal(readFileSync(note, "utf8"), "hello\n");
  assert.equal(readFileSync(join(dir, "home", ".agentrc"), "utf8"), "cfg\n");
  const expectedUid = isRoot ? spec.hostUid : process.getuid?.();
  assert.equal(statSync(note).uid, expectedUid);
  assert.equal(statSync(join(dir, "workspace")).uid, expectedUid);
});

test("the sandbox folders are 0700 and the folders above them only let others pass through (0711)", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("modes");
  await driver.ensure(spec, ensureOptions());
  const mode = (path: string) => statSync(path).mode & 0o7777;

  assert.equal(mode(root), 0o711);
  assert.equal(mode(join(root, spec.sandboxId)), 0o711);
  for (const folder of ["workspace", "home", "state", "run"]) assert.equal(mode(join(root, spec.sandboxId, folder)), 0o700, folder);
  for (const file of ["spec.json", "runtime.json", "sandbox.log"]) assert.equal(mode(join(root, spec.sandboxId, file)), 0o600, file);
  if (isRoot) assert.equal(statSync(join(root, spec.sandboxId)).uid, 0, "the sandbox cannot rename its own folders");
});
