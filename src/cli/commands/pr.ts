// `outpost pr <sandbox>`: push the branch and open its pull request on GitHub, or update the
// one already open for it; prints the pull request's URL. `--status` only reads it back.
import type { z } from "zod";
import type { pullRequestResource } from "../../schemas/pull-requests.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { printJson } from "../output.ts";

type PullRequest = z.infer<typeof pullRequestResource>;

export const prHelp = `outpost pr <sandbox> [--title T] [--body B] [--base BRANCH] [--draft] [--conversation CID]
    Pushes the branch (the conversation's, else the checked-out one) and opens its pull request, or updates the open one;
    prints its URL. Title and body are drafted from the conversation when left out. Needs the project's GITHUB_TOKEN credential.
outpost pr <sandbox> --status [--conversation CID]
    The pull request's state (open, merged, closed) and its checks.`;

export async function pr(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    title: { type: "string" },
    body: { type: "string" },
    base: { type: "string" },
    draft: { type: "boolean", default: false },
    conversation: { type: "string" },
    status: { type: "boolean", default: false },
  });
  const [sandbox, ...extra] = positionals;
  if (!sandbox) throw new UsageError("outpost pr needs a sandbox id or name");
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const api = new ApiClient(resolveConnection(values));
  const path = `/api/v1/sandboxes/${encodeURIComponent(sandbox)}/git/pull-request`;
  let result: PullRequest;
  if (values.status) {
    if (values.title !== undefined || values.body !== undefined || values.base !== undefined || values.draft) {
      throw new UsageError("--status only reads the pull request: leave out --title, --body, --base and --draft");
    }
    result = await api.request<PullRequest>("GET", `${path}${values.conversation ? `?conversationId=${encodeURIComponent(values.conversation)}` : ""}`);
  } else {
    const body = {
      ...(values.title !== undefined ? { title: values.title } : {}),
      ...(values.body !== undefined ? { body: values.body } : {}),
      ...(values.base !== undefined ? { base: values.base } : {}),
      ...(values.draft ? { draft: true } : {}),
      ...(values.conversation !== undefined ? { conversationId: values.conversation } : {}),
    };
    // It pushes first: git's network time, not only Outpost's.
    result = await api.request<PullRequest>("POST", path, body, {}, 11 * 60_000);
  }
  if (values.json) printJson(result);
  else if (values.status)
    console.log(
      `${result.url}\n#${result.number} ${result.state}${result.draft ? " (draft)" : ""}, ${result.head} → ${result.base}, checks: ${checks(result)}`,
    );
  else console.log(result.url);
  return 0;
}

function checks(pr: PullRequest): string {
  const { total, passed, failed, pending } = pr.checks;
  return total === 0 ? "none" : `${passed} passed, ${failed} failed, ${pending} pending`;
}
