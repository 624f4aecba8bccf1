// `outpost approve <run> <approval> allow|deny [--message M]`: answer an agent that waits
// to use a tool (a project in approve mode). `outpost chat` prints this command line.
import type { z } from "zod";
import type { approvalResource } from "../../schemas/runs.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { printJson } from "../output.ts";
import { oneLine, toolSummary } from "./chat-format.ts";

type Approval = z.infer<typeof approvalResource>;

export const approveHelp = `outpost approve <run> <approval> allow|deny [--message TEXT]
    Answers an agent waiting to use a tool; --message tells it why (with deny).`;

export async function approve(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { message: { type: "string" } });
  const [rid, aid, decision, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!rid || !aid || !decision) throw new UsageError("outpost approve needs a run, an approval and allow or deny: outpost approve run_… apr_… allow");
  if (decision !== "allow" && decision !== "deny") throw new UsageError(`the decision is allow or deny, got '${decision}'`);
  const api = new ApiClient(resolveConnection(values));
  const body = { decision, ...(values.message !== undefined ? { message: values.message } : {}) };
  const answered = await api.request<Approval>("POST", `/api/v1/runs/${encodeURIComponent(rid)}/approvals/${encodeURIComponent(aid)}`, body);
  if (values.json) printJson(answered);
  else console.log(`${answered.decision === "allow" ? "allowed" : "denied"}: ${oneLine(toolSummary(answered.tool, answered.input), 100)} (${answered.id})`);
  return 0;
}
