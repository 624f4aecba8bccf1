// `outpost usage <project>`: the model tokens the project's sandboxes used this month (UTC)
// through the model gateway, per provider and model, and what is left of its budget.
import type { z } from "zod";
import type { usageSummary } from "../../schemas/egress.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";

type UsageSummary = z.infer<typeof usageSummary>;

export const usageHelp = `outpost usage <project>
    Model tokens this month (UTC) through the gateway, per provider and model, against the project's budget
    (set it with outpost project update <project> --token-budget N).`;

export async function usage(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const [project, ...extra] = positionals;
  if (!project) throw new UsageError("outpost usage needs a project id or name");
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const api = new ApiClient(resolveConnection(values));
  const summary = await api.request<UsageSummary>("GET", `/api/v1/projects/${encodeURIComponent(project)}/usage`);
  if (values.json) {
    printJson(summary);
    return 0;
  }
  console.log(`${keyValues([["month", `${summary.month} (UTC)`]])}\n`);
  const rows = summary.totals.map((t) => ({
    provider: t.provider,
    model: t.model,
    calls: t.calls,
    input: t.inputTokens,
    output: t.outputTokens,
    "cache read": t.cacheReadTokens,
    "cache write": t.cacheWriteTokens,
    tokens: t.inputTokens + t.outputTokens + t.cacheReadTokens + t.cacheWriteTokens,
  }));
  console.log(`${table(rows, ["provider", "model", "calls", "input", "output", "cache read", "cache write", "tokens"])}\n`);
  console.log(
    keyValues([
      ["total", `${summary.totalTokens} tokens`],
      ["budget", summary.tokenBudget === null ? "none" : `${summary.tokenBudget} tokens a month`],
      ["remaining", summary.remainingTokens === null ? "-" : `${summary.remainingTokens} tokens`],
    ]),
  );
  return 0;
}
