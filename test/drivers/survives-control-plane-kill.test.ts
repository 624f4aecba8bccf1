import assert from "node:assert/strict";
import { test } from "node:test";
import type { LinkEvent } from "../../src/supervisor/link/registry.ts";
import { childControlPlane } from "./child-control-plane.ts";
import { ensureOptions, shIn, specFor, testBed } from "./helpers.ts";

test("after kill -9 of the control plane that started it, the sandbox runs on, its supervisor dials the next control plane, and ensure adopts it", async (t) => {
  const { driver, options } = testBed(t);
  const spec = specFor("survivor");
  const controlPlane = childControlPlane(t, options, spec);
  const ready = await controlPlane.line("ready ");
  const { initPid } = JSON.parse(ready.slice("ready ".length)) as { initPid: number };
  assert.ok(initPid > 0, ready);

  controlPlane.process.kill("SIGKILL");
  assert.equal(await controlPlane.exited, "SIGKILL");
  assert.equal((await driver.inspect(spec.sandboxId)).state, "running");

  // This process is the next control plane: it starts its driver, and the supervisor,
  // which lost its link with the kill, connects to it on its own.
  const events: LinkEvent[] = [];
  driver.onLinkEvent((event) => events.push(event));
  await driver.start();
  const link = await driver.connect(spec.sandboxId, { timeoutMs: 10_000 });
  assert.equal((await shIn(link, "echo still here")).stdout, "still here\n");
  assert.deepEqual(
    events.map((e) => `${e.type} ${e.sandboxId}`),
    [`up ${spec.sandboxId}`],
  );
  assert.deepEqual(await driver.inspect(spec.sandboxId), { state: "running", linked: true });

  const adopted = await driver.ensure(spec, ensureOptions());
  assert.equal(adopted.outcome, "adopted");
  assert.equal(adopted.driverState.initPid, initPid, "the same sandbox, not a new one");
});
