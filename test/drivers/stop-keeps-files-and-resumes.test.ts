import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SandboxCgroup } from "../../src/drivers/local/cgroups.ts";
import { isPidRunning } from "../../src/drivers/local/processes.ts";
import { ensureOptions, hostUidOf, processesOf, shIn, specFor, stopOptions, testBed } from "./helpers.ts";

test("stop ends every process of the sandbox, keeps its files, and ensure resumes it", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("stop-resume");
  const first = await driver.ensure(spec, ensureOptions());
  await shIn(first, "echo kept > /workspace/kept.txt; echo home > $HOME/h.txt");
  // A daemon that left its parent (re-parented to the sandbox's pid-1): stop ends it
  // too, and without waiting out the grace period since it obeys SIGTERM.
  await shIn(first, "setsid sleep 4343 </dev/null >/dev/null 2>&1 & echo ok");

  const started = Date.now();
  await driver.stop(spec.sandboxId, stopOptions(10_000));
  assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);

  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "stopped", linked: false });
  assert.ok(!isPidRunning(first.driverState.initPid as number), "the sandbox's init is gone");
  assert.deepEqual(processesOf(root, spec.sandboxId, hostUidOf(first)), [], "no process of the sandbox (its marker or, as root, its uid) is left");
  const cgroups = driver.cgroupSupport();
  if (cgroups.usable) assert.deepEqual(new SandboxCgroup(cgroups, spec.sandboxId).pids(), []);
  assert.equal(readFileSync(join(root, spec.sandboxId, "workspace", "kept.txt"), "utf8"), "kept\n");
  assert.deepEqual(await driver.list(), [spec.sandboxId], "a stopped sandbox still exists");

  const resumed = await driver.ensure(spec, ensureOptions());
  assert.equal(resumed.outcome, "started");
  assert.notEqual(resumed.driverState.initPid, first.driverState.initPid);
  assert.equal(hostUidOf(resumed), hostUidOf(first), "the sandbox keeps its host uid");
  const files = await shIn(resumed, "cat /workspace/kept.txt $HOME/h.txt");
  assert.equal(files.stdout, "kept\nhome\n");
});

test("stop is idempotent: on a stopped sandbox and on one that never existed", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("stop-twice");
  await driver.ensure(spec, ensureOptions());
  await driver.stop(spec.sandboxId, stopOptions());
  await driver.stop(spec.sandboxId, stopOptions());
  await driver.stop("sbx_never_was", stopOptions());
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "stopped", linked: false });
  assert.deepEqual(await driver.inspect("sbx_never_was"), { state: "missing", linked: false });
});

test("stop kills a sandbox whose supervisor and processes ignore SIGTERM once the grace period is over", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("stop-stubborn");
  mkdirSync(join(root, spec.sandboxId, "state"), { recursive: true });
  writeFileSync(join(root, spec.sandboxId, "state", "fake-ignore-sigterm"), "");
  const handle = await driver.ensure(spec, ensureOptions());
  await shIn(handle, "setsid sh -c 'trap \"\" TERM; sleep 4344' </dev/null >/dev/null 2>&1 & echo ok");

  const started = Date.now();
  await driver.stop(spec.sandboxId, stopOptions(300));
  assert.ok(Date.now() - started >= 300, "it got its grace period");
  assert.ok(!isPidRunning(handle.driverState.initPid as number));
  assert.deepEqual(processesOf(root, spec.sandboxId, hostUidOf(handle)), []);
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "stopped", linked: false });
});

test("stop also ends what appears while the sandbox is stopping, without waiting out the grace period", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("stop-late");
  // The supervisor starts a process as it handles SIGTERM, then exits: that process was not
  // there when the SIGTERMs went out (like a supervisor not yet forked right after a start).
  mkdirSync(join(root, spec.sandboxId, "state"), { recursive: true });
  writeFileSync(join(root, spec.sandboxId, "state", "fake-fork-at-sigterm"), "");
  const handle = await driver.ensure(spec, ensureOptions());

  const started = Date.now();
  await driver.stop(spec.sandboxId, stopOptions(20_000));
  assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
  assert.match(readFileSync(join(root, spec.sandboxId, "sandbox.log"), "utf8"), /started sleep \d+ at SIGTERM/, "the late process was started");
  assert.ok(!isPidRunning(handle.driverState.initPid as number));
  assert.deepEqual(processesOf(root, spec.sandboxId, hostUidOf(handle)), []);
});
