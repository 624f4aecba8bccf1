import assert from "node:assert/strict";
import { test } from "node:test";
import { PollTimeout, pollUntil } from "../../src/drivers/local/poll.ts";

test("pollUntil returns the first answer that is not undefined", async () => {
  let calls = 0;
  const value = await pollUntil(() => (++calls === 3 ? "ready" : undefined), { signal: new AbortController().signal, timeoutMs: 5000, minDelayMs: 1 });
  assert.equal(value, "ready");
  assert.equal(calls, 3);
});

test("pollUntil gives up at its deadline with PollTimeout", async () => {
  await assert.rejects(
    pollUntil(() => undefined, { signal: new AbortController().signal, timeoutMs: 50, minDelayMs: 5 }),
    PollTimeout,
  );
});

test("pollUntil stops at once on abort, rejecting with the signal's own reason", async () => {
  const controller = new AbortController();
  const reason = new Error("shutting down");
  const pending = pollUntil(() => undefined, { signal: controller.signal, timeoutMs: 60_000, minDelayMs: 10_000 });
  queueMicrotask(() => controller.abort(reason));
  await assert.rejects(pending, (error) => error === reason);
});
