// What every Driver must do, whatever its substrate (src/drivers/driver.ts): the control
// plane relies on exactly these behaviours and nothing else. A runner file per driver
// calls driverConformance() with a factory; each test gets a fresh driver from it.
// Files are written and read relative to the supervisor's working folder (the workspace),
// which is the only place every substrate agrees on.
import assert from "node:assert/strict";
import { describe, type TestContext, test } from "node:test";
import type { Driver, EnsureOptions, SandboxSpec, StageState } from "../../../src/drivers/driver.ts";
import { isDriverError } from "../../../src/drivers/errors.ts";
import type { LinkEvent } from "../../../src/supervisor/link/registry.ts";
import { shIn } from "../helpers.ts";

export interface ConformanceSubject {
  /** A driver of its own for this test; the factory cleans up after the test. */
  driver: Driver;
  /** Makes the sandbox's compute disappear the way a crash does (supervisor and all its
   *  processes killed), without telling the driver; resolves once it is gone. */
  crash(sandboxId: string): Promise<void>;
}

let counter = 0;
const specFor = (name: string, extra: Partial<SandboxSpec> = {}): SandboxSpec => {
  counter += 1;
  return { sandboxId: `sbx_c${process.pid}_${counter}`, name, ...extra };
};

interface Stage {
  stage: string;
  state: StageState;
}

const ensureOptions = (stages: Stage[] = []): EnsureOptions => ({
  onStage: (stage, state) => stages.push({ stage, state }),
  signal: AbortSignal.timeout(60_000),
});
const stopOptions = () => ({ signal: AbortSignal.timeout(60_000), graceMs: 3000 });
const removeOptions = (keepWorkspace = false) => ({ keepWorkspace, signal: AbortSignal.timeout(60_000), graceMs: 3000 });

/** Link events from now on, and a bounded wait for one that matches. */
function recordLinkEvents(driver: Driver, t: TestContext) {
  const events: LinkEvent[] = [];
  const waiters = new Set<() => void>();
  t.after(
    driver.onLinkEvent((event) => {
      events.push(event);
      for (const check of waiters) check();
    }),
  );
  const waitFor = (match: (event: LinkEvent) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<LinkEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no link event '${what}' within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
      }, timeoutMs);
      const check = () => {
        const found = events.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
  return { events, waitFor };
}

export function driverConformance(name: string, makeDriver: (t: TestContext) => Promise<ConformanceSubject>): void {
  describe(`${name} driver conformance`, () => {
    test("ensure starts a sandbox, reports the driver's stages in order, and its supervisor answers through the handle and through connect", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-start");
      const stages: Stage[] = [];
      const handle = await driver.ensure(spec, ensureOptions(stages));

      assert.equal(handle.outcome, "started");
      assert.equal(handle.sandboxId, spec.sandboxId);
      assert.equal(handle.link.info.sandboxId, spec.sandboxId);
      assert.deepEqual(
        stages.map((s) => `${s.stage}:${s.state}`),
        driver.stages.flatMap((stage) => [`${stage}:running`, `${stage}:done`]),
      );
      assert.equal((await shIn(handle, "echo through the handle")).stdout, "through the handle\n");
      const link = await driver.connect(spec.sandboxId, { timeoutMs: 5000 });
      assert.equal((await shIn(link, "echo through connect")).stdout, "through connect\n");
    });

    test("ensure on a running sandbox adopts it: same supervisor, its processes and files kept", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-adopt");
      const first = await driver.ensure(spec, ensureOptions());
      await shIn(first, "echo kept > kept.txt");
      const sleeper = await first.link.client.startProcess({ command: ["sleep", "600"], name: "sleeper" });

      const second = await driver.ensure(spec, ensureOptions());
      assert.equal(second.outcome, "adopted");
      assert.equal(second.sandboxId, spec.sandboxId);
      assert.equal((await second.link.client.getProcess(sleeper.id)).status, "running", "the sandbox was not restarted");
      assert.equal((await shIn(second, "cat kept.txt")).stdout, "kept\n");
      assert.deepEqual(await driver.list(), [spec.sandboxId]);
    });

    test("stop ends the sandbox's processes but keeps its files, and the next ensure starts it again on them", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-stop");
      const first = await driver.ensure(spec, ensureOptions());
      await shIn(first, "echo kept > kept.txt");
      const sleeper = await first.link.client.startProcess({ command: ["sleep", "600"], name: "sleeper" });

      await driver.stop(spec.sandboxId, stopOptions());
      assert.equal((await driver.inspect(spec.sandboxId)).state, "stopped");
      assert.deepEqual(await driver.list(), [spec.sandboxId], "a stopped sandbox still exists");

      const resumed = await driver.ensure(spec, ensureOptions());
      assert.equal(resumed.outcome, "started");
      assert.equal((await shIn(resumed, "cat kept.txt")).stdout, "kept\n");
      const processes = (await resumed.link.client.listProcesses()).items;
      assert.ok(!processes.some((p) => p.id === sleeper.id && p.status === "running"), "the process started before the stop is not running");
    });

    test("remove leaves nothing: list no longer has the sandbox and inspect says missing", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-remove");
      await driver.ensure(spec, ensureOptions());
      await driver.remove(spec.sandboxId, removeOptions());
      assert.deepEqual(await driver.list(), []);
      assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "missing", linked: false });
      await assert.rejects(driver.connect(spec.sandboxId, { timeoutMs: 200 }), (error: { code?: string }) => error.code === "SUPERVISOR_UNAVAILABLE");
    });

    test("remove with keepWorkspace hands the files to the next sandbox whose spec names it in workspaceFrom", async (t) => {
      const { driver } = await makeDriver(t);
      const old = specFor("conf-old");
      await shIn(await driver.ensure(old, ensureOptions()), "mkdir -p src && echo repo > src/README");
      await driver.remove(old.sandboxId, removeOptions(true));
      assert.deepEqual(await driver.list(), [], "the old sandbox is gone, whatever is kept of it");
      assert.equal((await driver.inspect(old.sandboxId)).state, "missing");

      const heir = specFor("conf-heir", { workspaceFrom: old.sandboxId });
      const handle = await driver.ensure(heir, ensureOptions());
      assert.equal((await shIn(handle, "cat src/README")).stdout, "repo\n");
      assert.deepEqual(await driver.list(), [heir.sandboxId]);
    });

    test("inspect and list report running, stopped and missing sandboxes, and whether each is linked", async (t) => {
      const { driver } = await makeDriver(t);
      const running = specFor("conf-running");
      const stopped = specFor("conf-stopped");
      await Promise.all([driver.ensure(running, ensureOptions()), driver.ensure(stopped, ensureOptions())]);
      await driver.stop(stopped.sandboxId, stopOptions());

      assert.deepEqual(await driver.list(), [running.sandboxId, stopped.sandboxId].sort());
      assert.deepEqual(await driver.inspect(running.sandboxId), { state: "running", linked: true });
      const inspected = await driver.inspect(stopped.sandboxId);
      assert.equal(inspected.state, "stopped");
      assert.equal(inspected.linked, false);
      assert.deepEqual(await driver.inspect("sbx_never_created"), { state: "missing", linked: false });
    });

    test("stop and remove are idempotent: twice in a row, and on an id that was never created", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-twice");
      await driver.ensure(spec, ensureOptions());
      await driver.stop(spec.sandboxId, stopOptions());
      await driver.stop(spec.sandboxId, stopOptions());
      assert.equal((await driver.inspect(spec.sandboxId)).state, "stopped");
      await driver.remove(spec.sandboxId, removeOptions());
      await driver.remove(spec.sandboxId, removeOptions());
      await driver.stop("sbx_never_created", stopOptions());
      await driver.remove("sbx_never_created", removeOptions());
      assert.deepEqual(await driver.list(), []);
      assert.equal((await driver.inspect(spec.sandboxId)).state, "missing");
    });

    test("after its compute crashed, a sandbox is no longer running and ensure starts it again with its files", async (t) => {
      const { driver, crash } = await makeDriver(t);
      const spec = specFor("conf-crash");
      const { waitFor } = recordLinkEvents(driver, t);
      await shIn(await driver.ensure(spec, ensureOptions()), "echo kept > kept.txt");

      await crash(spec.sandboxId);
      assert.notEqual((await driver.inspect(spec.sandboxId)).state, "running");
      await waitFor((e) => e.type === "down" && e.sandboxId === spec.sandboxId, "down after the crash");

      const again = await driver.ensure(spec, ensureOptions());
      assert.equal(again.outcome, "started");
      assert.equal((await shIn(again, "cat kept.txt")).stdout, "kept\n");
      assert.equal((await driver.inspect(spec.sandboxId)).state, "running");
    });

    test("connect to a stopped sandbox rejects with SUPERVISOR_UNAVAILABLE once its timeout is over", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-connect");
      await driver.ensure(spec, ensureOptions());
      await driver.stop(spec.sandboxId, stopOptions());

      const started = Date.now();
      await assert.rejects(driver.connect(spec.sandboxId, { timeoutMs: 300 }), (error: { code?: string }) => error.code === "SUPERVISOR_UNAVAILABLE");
      const took = Date.now() - started;
      assert.ok(took >= 290 && took < 5000, `rejected after ${took} ms`);
    });

    test("link events: up when ensure connects the supervisor, down when the sandbox is stopped", async (t) => {
      const { driver } = await makeDriver(t);
      const spec = specFor("conf-events");
      const { events, waitFor } = recordLinkEvents(driver, t);
      const handle = await driver.ensure(spec, ensureOptions());
      const up = await waitFor((e) => e.type === "up" && e.sandboxId === spec.sandboxId, "up");
      assert.ok(up.type === "up");
      assert.deepEqual(up.info, handle.link.info);

      await driver.stop(spec.sandboxId, stopOptions());
      await waitFor((e) => e.type === "down" && e.sandboxId === spec.sandboxId, "down");
      assert.deepEqual(
        events.map((e) => e.type),
        ["up", "down"],
      );
    });

    test("validate refuses an id that could walk out of the driver's folders, and ensure with it starts nothing", async (t) => {
      const { driver } = await makeDriver(t);
      const bad: SandboxSpec = { sandboxId: "../x", name: "conf-bad" };
      assert.throws(
        () => driver.validate(bad),
        (error) => isDriverError(error, "INVALID_SANDBOX_SPEC"),
      );
      const stages: Stage[] = [];
      await assert.rejects(driver.ensure(bad, ensureOptions(stages)), (error) => isDriverError(error, "INVALID_SANDBOX_SPEC"));
      assert.deepEqual(stages, [], "refused before any stage began");
      assert.deepEqual(await driver.list(), []);
    });
  });
}
