import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ensureOptions, hostUidOf, isRoot, shIn, specFor, testBed } from "./helpers.ts";

test("a file written in /workspace lands in <root>/<id>/workspace on the host, owned by the sandbox's host uid", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("files");
  const handle = await driver.ensure(spec, ensureOptions());

  const result = await shIn(handle, "pwd; id -u; echo hello > /workspace/note.txt; echo cfg > $HOME/.agentrc");
  assert.equal(result.exitCode, 0, result.stderr);
  assert.equal(result.stdout, "/workspace\n1000\n");

  const dir = join(root, spec.sandboxId);
  const note = join(dir, "workspace", "note.txt");
  assert.equal(readFileSync(note, "utf8"), "hello\n");
  assert.equal(readFileSync(join(dir, "home", ".agentrc"), "utf8"), "cfg\n");
  const expectedUid = isRoot ? hostUidOf(handle) : process.getuid?.();
  assert.equal(statSync(note).uid, expectedUid);
  assert.equal(statSync(join(dir, "workspace")).uid, expectedUid);
});

test("the sandbox folders are 0700, the link folder is the control plane's, and the folders above only let others pass through (0711)", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("modes");
  const handle = await driver.ensure(spec, ensureOptions());
  const dir = join(root, spec.sandboxId);
  const mode = (path: string) => statSync(path).mode & 0o7777;

  assert.equal(mode(root), 0o711);
  assert.equal(mode(dir), 0o711);
  for (const folder of ["workspace", "home", "state"]) assert.equal(mode(join(dir, folder)), 0o700, folder);
  for (const file of ["spec.json", "runtime.json", "sandbox.log", "status.json"]) assert.equal(mode(join(dir, file)), 0o600, file);
  // The sandbox may read its link folder (dial link.sock, read the token), never write it.
  const self = process.getuid?.();
  assert.equal(mode(join(dir, "link")), isRoot ? 0o750 : 0o700);
  assert.equal(mode(join(dir, "link", "token")), 0o640);
  for (const path of [join(dir, "link"), join(dir, "link", "token")]) {
    assert.equal(statSync(path).uid, self, `${path} is owned by the control plane`);
    if (isRoot) assert.equal(statSync(path).gid, hostUidOf(handle), `${path}'s group is the sandbox's`);
  }
  if (isRoot) assert.equal(statSync(dir).uid, 0, "the sandbox cannot rename its own folders");
});
