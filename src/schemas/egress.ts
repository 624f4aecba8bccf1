// The record of egress decisions and model usage, as the API shows them.
import { z } from "zod";

export const egressRecord = z
  .object({
    id: z.number().int(),
    sandboxId: z.string(),
    host: z.string(),
    port: z.number().int(),
    method: z.string().describe("CONNECT, or the method of a plain-HTTP request."),
    allowed: z.boolean(),
    rule: z.string().describe("What decided: 'registries', 'allow <host>', 'deny <host>', 'level none', 'non-public address' …"),
    reason: z.string().nullable(),
    address: z.string().nullable().describe("The address dialled."),
    bytesUp: z.number().int(),
    bytesDown: z.number().int(),
    startedAt: z.string(),
    durationMs: z.number().int(),
  })
  .meta({ id: "EgressRecord" });

export const egressQuery = z
  .object({
    after: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0).describe("Only records with a greater id."),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    tail: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe("Start with the last N records instead of the first (ignored when resuming with after or Last-Event-ID)."),
    follow: z.enum(["true", "false"]).default("false").describe("true: a Server-Sent Events stream of `egress` events, resumable with Last-Event-ID."),
  })
  .strict();

const usageTotals = z.object({
  provider: z.string(),
  model: z.string().nullable(),
  calls: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  cacheReadTokens: z.number().int(),
  cacheWriteTokens: z.number().int(),
});

export const usageSummary = z
  .object({
    month: z.string().describe("The calendar month (UTC) counted, e.g. 2026-11."),
    since: z.string(),
    totals: z.array(usageTotals),
    totalTokens: z.number().int(),
    tokenBudget: z.number().int().nullable(),
    remainingTokens: z.number().int().nullable(),
  })
  .meta({ id: "UsageSummary" });
