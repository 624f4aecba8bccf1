import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SandboxCgroup } from "../../src/drivers/local/cgroups.ts";
import { runningPidsOfUid } from "../../src/drivers/local/processes.ts";
import { ensureOptions, isRoot, shIn, specFor, stopOptions, testBed } from "./helpers.ts";

const removeOptions = (keepWorkspace: boolean) => ({ keepWorkspace, signal: AbortSignal.timeout(60_000), graceMs: 2000 });

test("remove leaves no process of the sandbox on the host and deletes its folders and cgroups", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("remove-all");
  const handle = await driver.ensure(spec, ensureOptions());
  await shIn(handle.supervisorSocket, "echo x > /workspace/x; setsid sleep 4444 </dev/null >/dev/null 2>&1 & echo ok");
  const cgroup = driver.cgroupSupport().usable ? new SandboxCgroup(driver.cgroupSupport(), spec.sandboxId) : undefined;
  if (cgroup) assert.ok(cgroup.dirs().every((dir) => existsSync(dir)));

  await driver.remove(spec.sandboxId, removeOptions(false));

  if (isRoot && spec.hostUid) assert.deepEqual(runningPidsOfUid(spec.hostUid), [], "no process runs as the sandbox's uid");
  assert.ok(!existsSync(join(root, spec.sandboxId)), "the sandbox folder is gone");
  if (cgroup)
    assert.deepEqual(
      cgroup.dirs().filter((dir) => existsSync(dir)),
      [],
      "the cgroups are gone",
    );
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing" });
  assert.deepEqual(await driver.list(), []);
  assert.deepEqual(readdirSync(root), []);
});

test("remove with keepWorkspace keeps only the workspace, and a later ensure starts on it again", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("remove-keep");
  const handle = await driver.ensure(spec, ensureOptions());
  await shIn(handle.supervisorSocket, "echo repo > /workspace/README; echo cache > $HOME/cache");

  await driver.remove(spec.sandboxId, removeOptions(true));

  assert.deepEqual(readdirSync(join(root, spec.sandboxId)), ["workspace"]);
  assert.equal(readFileSync(join(root, spec.sandboxId, "workspace", "README"), "utf8"), "repo\n");
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing" });

  const again = await driver.ensure(spec, ensureOptions());
  const seen = await shIn(again.supervisorSocket, "cat /workspace/README; ls -A $HOME");
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
