// spec.workspaceFrom: a new sandbox takes over the workspace a removed one kept (the
// driver-independent part is in conformance/; here what is particular to the local driver:
// ownership on the host, symlinks, and which sandboxes it may take from).
import assert from "node:assert/strict";
import { existsSync, lstatSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ensureOptions, hostUidOf, shIn, specFor, testBed } from "./helpers.ts";

test("a removed sandbox's kept workspace moves into the sandbox that names it, every entry given to the new uid without following symlinks", async (t) => {
  const { driver, root, dataDir } = testBed(t);
  // A host file the old sandbox points a symlink at: a chown that followed links would hand it over.
  const canary = join(dataDir, "canary");
  writeFileSync(canary, "host file\n");
  const old = specFor("wf-old");
  const first = await driver.ensure(old, ensureOptions());
  await shIn(first, `mkdir -p /workspace/src && echo repo > /workspace/src/README && ln -s ${canary} /workspace/evil`);
  await driver.remove(old.sandboxId, { keepWorkspace: true, signal: AbortSignal.timeout(30_000), graceMs: 2000 });

  const heir = specFor("wf-heir", { workspaceFrom: old.sandboxId });
  const handle = await driver.ensure(heir, ensureOptions());
  assert.equal((await shIn(handle, "cat /workspace/src/README")).stdout, "repo\n");
  assert.ok(!existsSync(join(root, old.sandboxId)), "nothing of the old sandbox is left");

  const owner = hostUidOf(handle) ?? process.getuid?.();
  const workspace = join(root, heir.sandboxId, "workspace");
  for (const path of [workspace, join(workspace, "src"), join(workspace, "src", "README"), join(workspace, "evil")]) {
    assert.equal(lstatSync(path).uid, owner, `${path} belongs to the new sandbox`);
  }
  assert.equal(statSync(canary).uid, process.getuid?.(), "the symlink's target was not touched");
});

test("a workspaceFrom naming a sandbox that still exists takes nothing from it", async (t) => {
  const { driver, root } = testBed(t);
  const owner = specFor("wf-owner");
  const running = await driver.ensure(owner, ensureOptions());
  await shIn(running, "echo mine > /workspace/mine.txt");

  const thief = await driver.ensure(specFor("wf-thief", { workspaceFrom: owner.sandboxId }), ensureOptions());
  assert.equal((await shIn(thief, "ls -A /workspace")).stdout, "", "the new sandbox starts with an empty workspace");
  assert.deepEqual(await driver.inspect(owner.sandboxId), { state: "running", linked: true });
  assert.ok(readdirSync(join(root, owner.sandboxId)).includes("spec.json"));
  assert.equal((await shIn(running, "cat /workspace/mine.txt")).stdout, "mine\n");
});
