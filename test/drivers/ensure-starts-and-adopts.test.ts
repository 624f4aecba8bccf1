import assert from "node:assert/strict";
import { test } from "node:test";
import { isPidRunning } from "../../src/drivers/local/processes.ts";
import { ensureOptions, execIn, type StageEvent, shIn, specFor, testBed } from "./helpers.ts";

test("ensure starts a sandbox whose supervisor connects, reports the three stages, and inspect says running", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("starts");
  const events: StageEvent[] = [];

  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing", linked: false });
  const handle = await driver.ensure(spec, ensureOptions(events));

  assert.equal(handle.outcome, "started");
  assert.equal(handle.sandboxId, spec.sandboxId);
  assert.equal(handle.link.info.sandboxId, spec.sandboxId);
  assert.equal(handle.link.info.protocol, 2);
  assert.deepEqual(
    events.map((e) => `${e.stage}:${e.state}`),
    ["workspace:running", "workspace:done", "isolation:running", "isolation:done", "supervisor:running", "supervisor:done"],
  );
  const initPid = handle.driverState.initPid;
  assert.ok(typeof initPid === "number" && isPidRunning(initPid), "driverState names the sandbox's running init");
  assert.equal((await execIn(handle, ["hostname"])).stdout, "starts\n");
  // connect() hands out the same supervisor as the handle.
  assert.equal((await execIn(await driver.connect(spec.sandboxId), ["hostname"])).stdout, "starts\n");
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "running", linked: true });
  assert.deepEqual(await driver.list(), [spec.sandboxId]);
});

test("ensure on a running sandbox adopts it, also from a freshly constructed driver (a restarted control plane)", async (t) => {
  const bed = testBed(t);
  const spec = specFor("adopts");
  const first = await bed.driver.ensure(spec, ensureOptions());
  await shIn(first, "echo kept > /workspace/kept.txt");
  const events: StageEvent[] = [];
  const second = await bed.driver.ensure(spec, ensureOptions(events));

  assert.equal(second.outcome, "adopted");
  assert.equal(second.driverState.initPid, first.driverState.initPid);
  assert.match(events.find((e) => e.stage === "isolation" && e.state === "done")?.message ?? "", /adopted/);

  // The first control plane goes away (its links with it); the next one adopts the sandbox.
  await bed.driver.close();
  const restarted = bed.restarted();
  await restarted.start();
  assert.deepEqual(await restarted.list(), [spec.sandboxId]);
  const third = await restarted.ensure(spec, ensureOptions());
  assert.equal(third.outcome, "adopted");
  assert.equal(third.driverState.initPid, first.driverState.initPid);
  assert.equal((await shIn(third, "cat /workspace/kept.txt")).stdout, "kept\n");
});
