// A control plane upgraded to protocol 2 finds sandboxes whose protocol 1 supervisor never
// dials: it restarts each once, keeping its files, instead of failing it.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ensureOptions, shIn, specFor, testBed } from "../drivers/helpers.ts";

test("a sandbox started by protocol 1 is restarted once with its files, then adopted as usual", async (t) => {
  const { driver, root } = testBed(t);
  const spec = specFor("upgrade-box");
  const first = await driver.ensure(spec, ensureOptions());
  await shIn(first, "echo kept > /workspace/kept.txt");
  // What a protocol 1 sandbox leaves on the host: the folder its supervisor listened in.
  mkdirSync(join(root, spec.sandboxId, "run"));

  const upgraded = await driver.ensure(spec, ensureOptions());
  assert.equal(upgraded.outcome, "started", "restarted, not adopted");
  assert.notEqual(upgraded.driverState.initPid, first.driverState.initPid);
  assert.equal((await shIn(upgraded, "cat /workspace/kept.txt")).stdout, "kept\n");

  const again = await driver.ensure(spec, ensureOptions());
  assert.equal(again.outcome, "adopted", "only once");
});
