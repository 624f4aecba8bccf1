import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { isDriverError } from "../../src/drivers/errors.ts";
import { SandboxCgroup } from "../../src/drivers/local/cgroups.ts";
import { ensureOptions, isRoot, processesOf, recordedHostUid, type StageEvent, specFor, testBed } from "./helpers.ts";

/** Plants a test hook file for the fake supervisor in the sandbox's state folder. */
function plantHook(root: string, sandboxId: string, name: string): void {
  mkdirSync(join(root, sandboxId, "state"), { recursive: true });
  writeFileSync(join(root, sandboxId, "state", name), "");
}

test("a supervisor that exits at start fails ensure with SANDBOX_START_FAILED and the tail of the sandbox log", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("crashes");
  plantHook(root, spec.sandboxId, "fake-exit-at-start");
  const events: StageEvent[] = [];

  await assert.rejects(driver.ensure(spec, ensureOptions(events)), (error) => {
    assert.ok(isDriverError(error, "SANDBOX_START_FAILED"), String(error));
    assert.match(error.message, /exiting at start as asked/);
    assert.match(String(error.details?.logTail), /exiting at start as asked/);
    return true;
  });
  assert.deepEqual(events.at(-1)?.stage, "supervisor");
  assert.deepEqual(events.at(-1)?.state, "failed");
  const inspection = await driver.inspect(spec.sandboxId);
  assert.equal(inspection.state, "stopped");
  assert.equal(inspection.linked, false);
  assert.deepEqual(processesOf(root, spec.sandboxId, recordedHostUid(root, spec.sandboxId)), [], "nothing of the failed start is left running");
});

test("a supervisor that never dials fails ensure with SUPERVISOR_NOT_READY after the readiness timeout, and nothing of the sandbox is left running", async (t) => {
  const { driver, root } = testBed(t, { readyTimeoutMs: 1500 });
  const spec = specFor("hangs");
  plantHook(root, spec.sandboxId, "fake-never-dial");
  const started = Date.now();

  await assert.rejects(driver.ensure(spec, ensureOptions()), (error) => {
    assert.ok(isDriverError(error, "SUPERVISOR_NOT_READY"), String(error));
    assert.match(error.message, /never dialling as asked/, "the message carries the log's tail");
    return true;
  });
  assert.ok(Date.now() - started >= 1500);
  const hostUid = recordedHostUid(root, spec.sandboxId);
  if (isRoot) assert.ok(hostUid !== undefined, "spec.json records the sandbox's host uid");
  assert.deepEqual(processesOf(root, spec.sandboxId, hostUid), [], "no process with its marker, and none of its uid");
  assert.equal((await driver.inspect(spec.sandboxId)).state, "stopped");
  const cgroups = driver.cgroupSupport();
  if (cgroups.usable) assert.deepEqual(new SandboxCgroup(cgroups, spec.sandboxId).pids(), [], "its cgroups are empty");
});

test("an ensure aborted as its supervisor stage begins rejects at once with the signal's reason and leaves no timer behind", async (t) => {
  const { driver, root } = testBed(t, { readyTimeoutMs: 60_000 });
  const spec = specFor("aborted");
  plantHook(root, spec.sandboxId, "fake-never-dial");
  const controller = new AbortController();
  const events: StageEvent[] = [];
  const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
  const timersBefore = timers();
  const pending = driver.ensure(spec, {
    onStage: (stage, state, message) => {
      events.push({ stage, state, message });
      if (stage === "supervisor" && state === "running") controller.abort(new Error("the reconciler gave up"));
    },
    signal: controller.signal,
  });
  await assert.rejects(pending, /the reconciler gave up/);
  assert.deepEqual(events.at(-1)?.state, "failed");
  // The signal was aborted before the wait began, so the wait's own clean-up on "abort"
  // never ran; a timer left polling would also keep this test file from ending.
  assert.ok(timers() <= timersBefore, `timers before ${timersBefore}, after ${timers()}`);
});
