// Token and cost sums of agent runs (pure).
import type { RunUsage } from "./events.ts";

export const ZERO_USAGE: RunUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null };

export function plusUsage(a: RunUsage, b: RunUsage): RunUsage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    costUsd: a.costUsd === null && b.costUsd === null ? null : (a.costUsd ?? 0) + (b.costUsd ?? 0),
  };
}

/** Never below zero: a session that was compacted can report less than before. */
export function minusUsage(total: RunUsage, before: RunUsage): RunUsage {
  return {
    inputTokens: Math.max(0, total.inputTokens - before.inputTokens),
    outputTokens: Math.max(0, total.outputTokens - before.outputTokens),
    cacheReadTokens: Math.max(0, total.cacheReadTokens - before.cacheReadTokens),
    cacheWriteTokens: Math.max(0, total.cacheWriteTokens - before.cacheWriteTokens),
    costUsd: total.costUsd === null ? null : Math.max(0, total.costUsd - (before.costUsd ?? 0)),
  };
}
