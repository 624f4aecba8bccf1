// Why a sandbox ended on its own, as the `sandbox.lost` event says it. Pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { describeLastExit } from "../../src/drivers/local/exit-status.ts";

test("a signal, an exit code, or nothing known, and the OOM killer's part when it had one", () => {
  assert.deepEqual(describeLastExit({ exitCode: 137 }, 0), { reason: "the sandbox's supervisor was killed by signal 9", oomKilled: false });
  assert.equal(describeLastExit({ exitCode: 3 }, 0).reason, "the sandbox's supervisor exited with code 3");
  assert.equal(describeLastExit(null, 0).reason, "the sandbox's supervisor ended");
  const oom = describeLastExit({ exitCode: 137 }, 2);
  assert.equal(oom.oomKilled, true);
  assert.match(oom.reason, /killed 2 process\(es\) .* for lack of memory \(raise the memory limit\)/);
});
