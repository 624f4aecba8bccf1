import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SandboxCgroup } from "../../src/drivers/local/cgroups.ts";
import { ensureOptions, hostUidOf, isRoot, processesOf, shIn, specFor, stopOptions, testBed } from "./helpers.ts";

const removeOptions = (keepWorkspace: boolean) => ({ keepWorkspace, signal: AbortSignal.timeout(60_000), graceMs: 2000 });

test("remove leaves no process of the sandbox on the host and deletes its folders and cgroups", async (t) => {
  const { driver, root, options } = testBed(t);
  const spec = specFor("remove-all");
  const handle = await driver.ensure(spec, ensureOptions());
  await shIn(handle, "echo x > /workspace/x; setsid sleep 4444 </dev/null >/dev/null 2>&1 & echo ok");
  const cgroup = driver.cgroupSupport().usable ? new SandboxCgroup(driver.cgroupSupport(), spec.sandboxId) : undefined;
  if (cgroup) assert.ok(cgroup.dirs().every((dir) => existsSync(dir)));

  await driver.remove(spec.sandboxId, removeOptions(false));

  assert.deepEqual(processesOf(root, spec.sandboxId, hostUidOf(handle)), [], "no process of the sandbox (its marker or, as root, its uid) is left");
  if (isRoot) {
    const uid = hostUidOf(handle);
    assert.ok(uid !== undefined, "as root the sandbox had a host uid of its own");
    assert.ok(!existsSync(join(options.hostUidClaimsDir as string, String(uid))), "its host uid is released for the next sandbox");
  }
  assert.ok(!existsSync(join(root, spec.sandboxId)), "the sandbox folder is gone");
  if (cgroup)
    assert.deepEqual(
      cgroup.dirs().filter((dir) => existsSync(dir)),
      [],
      "the cgroups are gone",
    );
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing", linked: false });
  assert.deepEqual(await driver.list(), []);
  assert.deepEqual(readdirSync(root), []);
});

test("remove with keepWorkspace keeps only the workspace, and a later ensure starts on it again", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("remove-keep");
  const handle = await driver.ensure(spec, ensureOptions());
  await shIn(handle, "echo repo > /workspace/README; echo cache > $HOME/cache");

  await driver.remove(spec.sandboxId, removeOptions(true));

  assert.deepEqual(readdirSync(join(root, spec.sandboxId)), ["workspace"]);
  assert.equal(readFileSync(join(root, spec.sandboxId, "workspace", "README"), "utf8"), "repo\n");
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing", linked: false });

  const again = await driver.ensure(spec, ensureOptions());
  const seen = await shIn(again, "cat /workspace/README; ls -A $HOME");
  assert.equal(seen.stdout, "repo\n", "the workspace came back, the home did not");
});

test("remove is idempotent: twice in a row, on a stopped sandbox, and on one that never existed", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("remove-twice");
  await driver.ensure(spec, ensureOptions());
  await driver.stop(spec.sandboxId, stopOptions());
  await driver.remove(spec.sandboxId, removeOptions(false));
  await driver.remove(spec.sandboxId, removeOptions(false));
  await driver.remove("sbx_never_was", removeOptions(false));
  assert.deepEqual(readdirSync(root), []);
});
