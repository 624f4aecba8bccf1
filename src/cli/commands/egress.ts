// `outpost egress <project> [--follow]`: the connections a project's sandboxes asked for,
// allowed or denied, oldest first. With --follow, the ones recorded so far and then new ones
// as they come, until Ctrl-C; a dropped connection resumes after the last record shown.
// A record is sent once, when the proxy decides: a connection still open then shows the
// bytes it had carried so far (0), and `outpost egress` without --follow shows the totals.
import type { z } from "zod";
import type { egressRecord } from "../../schemas/egress.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, readSse, resolveConnection } from "../client.ts";
import { printJson, table } from "../output.ts";

type EgressRecord = z.infer<typeof egressRecord>;

export const egressHelp = `outpost egress <project> [--follow] [--after ID] [--limit N]
    The connections the project's sandboxes asked for (kept 30 days), oldest first: allowed or denied, by which
    rule, and why not. --follow keeps printing new ones until Ctrl-C. With --json: the API's page, or with --follow
    one record per line.`;

const COLUMNS = ["time", "sandbox", "decision", "host:port", "rule", "bytes↑", "bytes↓", "reason"];

export async function egress(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    follow: { type: "boolean", short: "f", default: false },
    after: { type: "string" },
    limit: { type: "string" },
  });
  const [project, ...extra] = positionals;
  if (!project) throw new UsageError("outpost egress needs a project id or name");
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (values.after !== undefined && !/^\d{1,15}$/.test(values.after)) throw new UsageError("--after takes a record id (a whole number)");
  if (values.limit !== undefined && !(/^\d{1,4}$/.test(values.limit) && Number(values.limit) >= 1 && Number(values.limit) <= 1000)) {
    throw new UsageError("--limit takes a number from 1 to 1000");
  }
  const api = new ApiClient(resolveConnection(values));
  const path = `/api/v1/projects/${encodeURIComponent(project)}/egress`;
  if (values.follow) return follow(api, path, values.after, values.json);

  const query = new URLSearchParams({ after: values.after ?? "0", limit: values.limit ?? "100" });
  const page = await api.request<{ items: EgressRecord[]; nextAfter: number }>("GET", `${path}?${query}`);
  if (values.json) printJson(page);
  else {
    console.log(table(page.items.map(row), COLUMNS));
    if (page.items.length === Number(query.get("limit"))) console.error(`more: outpost egress ${project} --after ${page.nextAfter}`);
  }
  return 0;
}

/** Streams records until Ctrl-C; rows have fixed widths, as later rows cannot re-align earlier ones. */
async function follow(api: ApiClient, path: string, after: string | undefined, json: boolean): Promise<number> {
  let lastId = after;
  let connected = false;
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());

  while (!stop.signal.aborted) {
    try {
      const body = await api.stream("GET", `${path}?follow=true`, undefined, lastId ? { "last-event-id": lastId } : {}, stop.signal);
      if (!json && !connected) process.stdout.write(`${streamLine(Object.fromEntries(COLUMNS.map((c) => [c, c.toUpperCase()])))}\n`);
      connected = true;
      for await (const message of readSse(body)) {
        if (message.event === "error") throw new ApiError(503, "STREAM_ERROR", (message.data as { message: string }).message);
        if (message.event !== "egress") continue;
        if (message.id) lastId = message.id;
        const record = message.data as EgressRecord;
        process.stdout.write(`${json ? JSON.stringify(record) : streamLine(row(record))}\n`);
      }
    } catch (error) {
      if (stop.signal.aborted) return 0;
      // Only a stream that worked is worth coming back to, and a refusal (no such project,
      // no access) will not change by trying again.
      if (!connected || (error instanceof ApiError && error.status >= 400 && error.status < 500)) throw error;
    }
    // The stream ended or broke: come back and resume after the last record shown.
    if (!stop.signal.aborted) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return 0;
}

function row(record: EgressRecord): Record<string, unknown> {
  return {
    time: record.startedAt,
    sandbox: record.sandboxId,
    decision: record.allowed ? "allow" : "deny",
    "host:port": `${record.host.includes(":") ? `[${record.host}]` : record.host}:${record.port}`,
    rule: record.rule,
    "bytes↑": record.bytesUp,
    "bytes↓": record.bytesDown,
    reason: record.allowed ? "" : record.reason,
  };
}

/** Widths that fit typical values (an ISO time, a sandbox id); a longer value pushes its row right. */
const STREAM_WIDTHS = [24, 20, 8, 32, 20, 10, 10, 0];

function streamLine(cells: Record<string, unknown>): string {
  return COLUMNS.map((c, i) => String(cells[c] ?? "-").padEnd(STREAM_WIDTHS[i] ?? 0))
    .join("  ")
    .trimEnd();
}
