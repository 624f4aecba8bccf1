// The FakeDriver's own fault injection, which tests above the driver seam rely on to play
// a failing substrate (its Driver behaviour is in conformance/fake.test.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { DriverError, isDriverError } from "../../src/drivers/errors.ts";
import { isPidRunning } from "../../src/drivers/local/processes.ts";
import { FakeDriver } from "./fake-driver.ts";
import { ensureOptions, type StageEvent } from "./helpers.ts";

test("failNextEnsure makes exactly the next ensure of that sandbox fail with the given error, in its first stage, starting nothing", async (t) => {
  const driver = new FakeDriver();
  t.after(() => driver.dispose());
  const spec = { sandboxId: "sbx_fault_1", name: "fault" };
  driver.failNextEnsure(spec.sandboxId, new DriverError("SANDBOX_START_FAILED", "injected"));
  const events: StageEvent[] = [];

  await assert.rejects(driver.ensure(spec, ensureOptions(events)), (error) => isDriverError(error, "SANDBOX_START_FAILED") && error.message === "injected");
  assert.deepEqual(
    events.map((e) => `${e.stage}:${e.state}`),
    ["process:running", "process:failed"],
  );
  assert.equal((await driver.inspect(spec.sandboxId)).state, "missing");

  const handle = await driver.ensure(spec, ensureOptions());
  assert.equal(handle.outcome, "started", "only one ensure fails");
});

test("crash kills the supervisor without telling the driver: inspect says stopped with why, and the link goes down", async (t) => {
  const driver = new FakeDriver();
  t.after(() => driver.dispose());
  const spec = { sandboxId: "sbx_fault_2", name: "crash" };
  const handle = await driver.ensure(spec, ensureOptions());
  const sleeper = await handle.link.client.startProcess({ command: ["sleep", "600"] });
  assert.ok(isPidRunning(sleeper.pid));
  const supervisor = driver.supervisorPid(spec.sandboxId);
  assert.ok(supervisor);
  const down = new Promise<string>((resolve) =>
    driver.onLinkEvent((event) => {
      if (event.type === "down" && event.sandboxId === spec.sandboxId) resolve(event.reason);
    }),
  );

  await driver.crash(spec.sandboxId);
  assert.ok(!isPidRunning(supervisor), "the supervisor is gone");
  assert.ok(!isPidRunning(sleeper.pid), "and what it started");
  const inspection = await driver.inspect(spec.sandboxId);
  assert.equal(inspection.state, "stopped");
  assert.match(inspection.lastExit?.reason ?? "", /SIGKILL/);
  assert.ok(await down);
});
