// Retryable failures back off: exponential, capped, jittered. Pure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { backoffDelay } from "../../src/reconciler/backoff.ts";

const policy = { baseMs: 1000, capMs: 60_000 };

test("the delay doubles per attempt, between half and all of its ceiling", () => {
  for (const [attempt, ceiling] of [
    [1, 1000],
    [2, 2000],
    [3, 4000],
    [6, 32_000],
  ] as const) {
    assert.equal(
      backoffDelay(attempt, policy, () => 0),
      ceiling / 2,
    );
    assert.equal(
      backoffDelay(attempt, policy, () => 0.999_999),
      Math.round(ceiling / 2 + 0.999_999 * (ceiling / 2)),
    );
  }
});

test("the delay never passes the cap, however many attempts", () => {
  for (const attempt of [7, 20, 1000, Number.MAX_SAFE_INTEGER]) assert.ok(backoffDelay(attempt, policy, () => 0.999) <= 60_000);
});

test("two sandboxes failing together get different delays (jitter)", () => {
  const delays = new Set(Array.from({ length: 20 }, () => backoffDelay(5, policy)));
  assert.ok(delays.size > 1);
});
