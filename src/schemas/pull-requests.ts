// Pull requests of a sandbox's branch (docs/api.md, "Git"): what opening one takes, and the
// view Outpost keeps of it on the conversation (state and checks as GitHub reported them).
import { z } from "zod";
import { text } from "./common.ts";
import { branchName } from "./git.ts";

const conversationId = z.string().regex(/^cnv_[a-z0-9]{6,32}$/, "must be a cnv_… id");

export const openPullRequestBody = z
  .object({
    title: text(256).min(1).optional().describe("Default: drafted from the conversation (its title or first prompt), else the branch name."),
    body: text(65_536).optional().describe("Default: drafted from the conversation's prompts and the agent's summaries, with a link back."),
    base: branchName.optional().describe("The branch to merge into. Default: the conversation's base branch, else the project's default branch."),
    draft: z.boolean().optional().describe("Open it as a draft (new pull requests only)."),
    conversationId: conversationId
      .optional()
      .describe("Push this conversation's branch and keep the pull request on it. Default: the branch checked out in the sandbox."),
  })
  .strict();

export const pullRequestQuery = z
  .object({ conversationId: conversationId.optional().describe("The conversation whose pull request to read. Default: the checked-out branch's.") })
  .strict();

export const pullRequestResource = z
  .object({
    number: z.number().int(),
    url: z.string().describe("The pull request on GitHub."),
    state: z.enum(["open", "merged", "closed"]),
    draft: z.boolean(),
    head: z.string().describe("The branch it merges."),
    base: z.string().describe("The branch it merges into."),
    headSha: z.string(),
    checks: z
      .object({ total: z.number().int(), passed: z.number().int(), failed: z.number().int(), pending: z.number().int() })
      .describe("The head commit's check runs: passed (success, neutral, skipped), failed, still pending."),
    updatedAt: z.string(),
    conversationId: z.string().nullable().describe("The conversation it is kept on (null: none works on this branch)."),
  })
  .meta({ id: "PullRequest" });
