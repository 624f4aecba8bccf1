import assert from "node:assert/strict";
import { test } from "node:test";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { ensureOptions, FAKE_SUPERVISOR, type StageEvent, specFor, testBed } from "./helpers.ts";

test("ensure starts a sandbox whose supervisor answers, reports the three stages, and inspect says running", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("starts");
  const events: StageEvent[] = [];

  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing" });
  const handle = await driver.ensure(spec, ensureOptions(events));

  assert.equal(handle.outcome, "started");
  assert.equal(handle.supervisorProtocol, 1);
  assert.equal(handle.supervisorSocket, driver.supervisorSocket(spec.sandboxId));
  assert.deepEqual(
    events.map((e) => `${e.stage}:${e.state}`),
    ["workspace:running", "workspace:done", "isolation:running", "isolation:done", "supervisor:running", "supervisor:done"],
  );
  const inspection = await driver.inspect(spec.sandboxId);
  assert.equal(inspection.state, "running");
  assert.equal(inspection.pid, handle.pid);
  assert.equal(inspection.supervisorSocket, handle.supervisorSocket);
  assert.deepEqual(await driver.list(), [spec.sandboxId]);
});

test("ensure on a running sandbox adopts it, also from a freshly constructed driver (a restarted control plane)", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("adopts");
  const first = await driver.ensure(spec, ensureOptions());
  const events: StageEvent[] = [];
  const second = await driver.ensure(spec, ensureOptions(events));

  assert.equal(second.outcome, "adopted");
  assert.equal(second.pid, first.pid);
  assert.match(events.find((e) => e.stage === "isolation" && e.state === "done")?.message ?? "", /adopted/);

  const restarted = new LocalDriver({ root: driver.root, supervisorBundle: FAKE_SUPERVISOR });
  assert.deepEqual(await restarted.list(), [spec.sandboxId]);
  const third = await restarted.ensure(spec, ensureOptions());
  assert.equal(third.outcome, "adopted");
  assert.equal(third.pid, first.pid);
});
