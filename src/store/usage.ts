// Model usage (migrations/0008): one row per call through the model gateway, counted from
// the provider's answer on the host, so nothing in the sandbox can under-report it.
import type { Queryable } from "./database.ts";

export interface UsageRecord {
  projectId: string;
  sandboxId: string;
  provider: string;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export async function insertUsage(db: Queryable, record: UsageRecord): Promise<void> {
  await db.query(
    `insert into model_usage (project_id, sandbox_id, provider, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      record.projectId,
      record.sandboxId,
      record.provider,
      record.model,
      record.inputTokens,
      record.outputTokens,
      record.cacheReadTokens,
      record.cacheWriteTokens,
    ],
  );
}

export interface UsageTotals {
  provider: string;
  model: string | null;
  calls: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** Usage since `since`, per provider and model. */
export async function usageSince(db: Queryable, projectId: string, since: Date): Promise<UsageTotals[]> {
  const { rows } = await db.query(
    `select provider, model, count(*)::float8 as calls,
            sum(input_tokens)::float8 as "inputTokens", sum(output_tokens)::float8 as "outputTokens",
            sum(cache_read_tokens)::float8 as "cacheReadTokens", sum(cache_write_tokens)::float8 as "cacheWriteTokens"
       from model_usage where project_id = $1 and created_at >= $2
      group by provider, model order by provider, model`,
    [projectId, since],
  );
  return rows as UsageTotals[];
}

/** All tokens since `since` (what a budget counts). */
export async function tokensSince(db: Queryable, projectId: string, since: Date): Promise<number> {
  const { rows } = await db.query(
    `select coalesce(sum(input_tokens + output_tokens + cache_read_tokens + cache_write_tokens), 0)::float8 as total
       from model_usage where project_id = $1 and created_at >= $2`,
    [projectId, since],
  );
  return Number((rows[0] as { total: number }).total);
}
