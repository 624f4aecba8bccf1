// `outpost runs [project]`: the agent runs, newest first. `outpost run get|cancel|events|raw
// <rid>`: one run; `events` prints its normalized events as JSON lines, `raw` what the agent
// itself printed (for a bug report about an adapter).
import { pipeline } from "node:stream/promises";
import type { z } from "zod";
import type { RunUsage } from "../../domain/agents/events.ts";
import type { runResource, runWithApprovals } from "../../schemas/runs.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";
import { oneLine, toolSummary } from "./chat-format.ts";
import { followRunEvents } from "./run-stream.ts";

type Run = z.infer<typeof runResource>;
type RunDetail = z.infer<typeof runWithApprovals>;

const RUN_STATUSES = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"];

export const runsHelp = `outpost runs [project] [--status queued|running|waiting|succeeded|failed|cancelled]`;

export const runHelp = `outpost run get <run>
outpost run cancel <run>
outpost run events <run> [--follow] [--after SEQ]   the run's events, one JSON object a line
outpost run raw <run>                               what the agent printed (NDJSON), for debugging`;

export async function runs(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { status: { type: "string" } });
  const [project, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (values.status !== undefined && !RUN_STATUSES.includes(values.status)) throw new UsageError(`--status must be one of ${RUN_STATUSES.join(", ")}`);
  const api = new ApiClient(resolveConnection(values));
  const query = new URLSearchParams({ limit: "200", ...(project ? { project } : {}), ...(values.status ? { status: values.status } : {}) });
  const page = await api.request<{ items: Run[] }>("GET", `/api/v1/runs?${query}`);
  if (values.json) {
    printJson(page);
    return 0;
  }
  const now = Date.now();
  const rows = page.items.map((r) => ({
    id: r.id,
    status: r.status,
    agent: r.agent,
    started: shortTime(r.startedAt),
    duration: duration(r, now),
    tokens: tokens(r.usage),
    cost: cost(r.usage),
    prompt: oneLine(r.prompt, 50),
  }));
  console.log(table(rows, ["id", "status", "agent", "started", "duration", "tokens", "cost", "prompt"]));
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { follow: { type: "boolean", short: "f", default: false }, after: { type: "string" } });
  const [verb, rid, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!verb) throw new UsageError("outpost run needs a verb: get, cancel, events, raw");
  if (!rid) throw new UsageError(`outpost run ${verb} needs a run id (run_…)`);
  if ((values.follow || values.after !== undefined) && verb !== "events") throw new UsageError("--follow and --after go with `outpost run events`");
  if (values.after !== undefined && !/^\d{1,15}$/.test(values.after)) throw new UsageError("--after takes an event number (a whole number)");
  const api = new ApiClient(resolveConnection(values));
  const path = `/api/v1/runs/${encodeURIComponent(rid)}`;

  switch (verb) {
    case "get":
      return show(await api.request<RunDetail>("GET", path), values.json);
    case "cancel": {
      const cancelled = await api.request<Run>("POST", `${path}/cancel`);
      return show({ ...cancelled, approvals: [] }, values.json);
    }
    case "events": {
      const stop = new AbortController();
      process.once("SIGINT", () => stop.abort());
      await followRunEvents(api, rid, stop.signal, (event) => process.stdout.write(`${JSON.stringify(event)}\n`), {
        follow: values.follow,
        after: values.after,
      });
      return 0;
    }
    case "raw": {
      const body = await api.send("GET", `${path}/raw`, undefined, { accept: "application/x-ndjson" });
      await pipeline(body, process.stdout, { end: false });
      return 0;
    }
    default:
      throw new UsageError(`unknown verb 'run ${verb}'`);
  }
}

function show(r: RunDetail, json: boolean): number {
  if (json) {
    printJson(r);
    return 0;
  }
  const approvals = r.approvals.map((a) => `${a.id} ${oneLine(toolSummary(a.tool, a.input), 60)} (${a.decision})`);
  console.log(
    keyValues([
      ["id", r.id],
      ["status", r.status],
      ["reason", r.reason],
      ["conversation", r.conversationId],
      ["sandbox", r.sandboxId],
      ["agent", r.model ? `${r.agent} (${r.model})` : r.agent],
      ["prompt", oneLine(r.prompt, 100)],
      ["started", shortTime(r.startedAt)],
      ["ended", shortTime(r.endedAt)],
      ["duration", duration(r, Date.now())],
      ["tokens", tokens(r.usage)],
      ["cost", cost(r.usage)],
      ["events", r.eventCount],
      ...(approvals.length ? [["approvals", approvals.join("\n           ")] as [string, string]] : []),
    ]),
  );
  return 0;
}

/** `2025-03-01 14:02:11` (UTC): a table column, not an API field. */
function shortTime(iso: string | null): string | null {
  return iso ? iso.replace("T", " ").slice(0, 19) : null;
}

function duration(r: Pick<Run, "startedAt" | "endedAt">, now: number): string | null {
  if (!r.startedAt) return null;
  const seconds = Math.max(0, Math.round(((r.endedAt ? Date.parse(r.endedAt) : now) - Date.parse(r.startedAt)) / 1000));
  const text = seconds < 60 ? `${seconds}s` : `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, "0")}s`;
  return r.endedAt ? text : `${text}…`;
}

function tokens(usage: RunUsage | null): string | null {
  if (!usage) return null;
  return `${usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens}/${usage.outputTokens}`;
}

function cost(usage: RunUsage | null): string | null {
  return usage?.costUsd != null ? `$${usage.costUsd.toFixed(4)}` : null;
}
