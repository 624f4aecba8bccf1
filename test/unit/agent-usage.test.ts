import assert from "node:assert/strict";
import { test } from "node:test";
import { minusUsage, plusUsage, ZERO_USAGE } from "../../src/domain/agents/usage.ts";

test("a run's own usage from a session's running total: earlier runs subtracted, never below zero", () => {
  const first = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 5, cacheWriteTokens: 0, costUsd: 0.01 };
  const second = { inputTokens: 40, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 3, costUsd: null };
  const before = plusUsage(plusUsage(ZERO_USAGE, first), second);
  assert.deepEqual(before, { inputTokens: 140, outputTokens: 30, cacheReadTokens: 5, cacheWriteTokens: 3, costUsd: 0.01 });
  const total = { inputTokens: 200, outputTokens: 45, cacheReadTokens: 5, cacheWriteTokens: 1, costUsd: 0.03 };
  const own = minusUsage(total, before);
  assert.deepEqual(
    { ...own, costUsd: Number(own.costUsd?.toFixed(6)) },
    { inputTokens: 60, outputTokens: 15, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.02 },
  );
  assert.equal(plusUsage(ZERO_USAGE, ZERO_USAGE).costUsd, null, "no cost reported stays unknown");
});
