// Conversations with an agent, their runs (one per turn), approvals and the agent settings of
// a project (docs/api.md, "Agent runs"). Run events stream as SSE; their payloads are the
// normalized types of src/domain/agents/events.ts.
import { z } from "zod";
import { AGENT_NAMES } from "../domain/agents/adapter.ts";
import { RUN_STATUSES } from "../domain/agents/events.ts";
import { approvalRuleProblem, PERMISSION_MODES } from "../domain/agents/settings.ts";
import { text } from "./common.ts";
import { branchName } from "./git.ts";
import { pullRequestResource } from "./pull-requests.ts";

export const MAX_PROMPT_CHARS = 256 * 1024;

const id = (prefix: string) => z.string().regex(new RegExp(`^${prefix}_[a-z0-9]{6,32}$`), `must be a ${prefix}_… id`);

export const conversationParams = z.object({ cid: id("cnv") }).strict();
export const runParams = z.object({ rid: id("run") }).strict();
export const approvalParams = z.object({ rid: id("run"), aid: id("apr") }).strict();

export const createConversationBody = z
  .object({
    agent: z.enum(AGENT_NAMES).describe("The agent CLI: claude-code, codex, gemini, opencode, or custom (any command)."),
    model: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._:@/-]+$/, "must be a model name such as claude-sonnet-4-5")
      .optional()
      .describe("The model, as the agent names it; default: the agent's own."),
    title: text(200).optional(),
    command: text(4096).optional().describe("custom only: the command line (sh -c) that answers each message on stdout."),
    branch: branchName.optional().describe("The branch its own branch (`outpost/<title>-<id>`) starts from; default: the one checked out at its first turn."),
    worktree: z
      .boolean()
      .optional()
      .describe("Work in a git worktree of its own (in the sandbox's home), so conversations in one sandbox do not touch each other's files."),
  })
  .strict();

export const sendMessageBody = z.object({ text: text(MAX_PROMPT_CHARS).pipe(z.string().min(1, "must not be empty")) }).strict();

export const decideBody = z
  .object({ decision: z.enum(["allow", "deny"]), message: text(2000).optional().describe("Told to the agent with a denial.") })
  .strict();

const usage = z
  .object({ inputTokens: z.number(), outputTokens: z.number(), cacheReadTokens: z.number(), cacheWriteTokens: z.number(), costUsd: z.number().nullable() })
  .meta({ id: "RunUsage" });

const limits = z
  .object({
    maxDurationSec: z
      .number()
      .int()
      .min(10)
      .max(7 * 86_400)
      .describe("Wall time of one run."),
    maxTurns: z.number().int().min(1).max(10_000).nullable().describe("Model round trips per run (when the agent can limit them)."),
    maxCostUsd: z.number().min(0).max(100_000).nullable().describe("Cost per run as the agent reports it."),
    stallTimeoutSec: z.number().int().min(1).max(86_400).describe("No output for this long while no tool runs: the run is stalled and ends failed."),
  })
  .meta({ id: "RunLimits" });

export const runResource = z
  .object({
    id: z.string(),
    conversationId: z.string(),
    sandboxId: z.string(),
    projectId: z.string(),
    agent: z.string(),
    model: z.string().nullable(),
    prompt: z.string(),
    status: z.enum(RUN_STATUSES),
    reason: z.string().nullable().describe("Why it failed or was cancelled."),
    usage: usage.nullable(),
    limits,
    eventCount: z.number().int(),
    createdBy: z.string(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    endedAt: z.string().nullable(),
  })
  .meta({ id: "Run" });

export const approvalResource = z
  .object({
    id: z.string(),
    runId: z.string(),
    tool: z.string(),
    input: z.unknown(),
    toolCallId: z.string().nullable(),
    decision: z.enum(["pending", "allow", "deny"]),
    message: z.string().nullable(),
    decidedBy: z.string().nullable(),
    decidedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: "Approval" });

export const runWithApprovals = runResource.extend({ approvals: z.array(approvalResource) }).meta({ id: "RunDetail" });

export const conversationResource = z
  .object({
    id: z.string(),
    projectId: z.string(),
    sandboxId: z.string(),
    agent: z.string(),
    model: z.string().nullable(),
    title: z.string(),
    sessionId: z.string().nullable().describe("The agent's own session id: follow-ups resume it."),
    status: z.enum(["idle", ...RUN_STATUSES]).describe("The latest run's status (idle: no run yet)."),
    branch: z.string().nullable().describe("The git branch its turns work on."),
    baseBranch: z.string().nullable().describe("Where that branch starts, and its pull request's base."),
    worktree: z.string().nullable().describe("Its own worktree (a folder in the sandbox), or null: it works in /workspace."),
    pullRequest: pullRequestResource.omit({ conversationId: true }).nullable().describe("Its pull request as last seen."),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Conversation" });

/** conversations.pull_request as services/git/pull-requests.ts stores it. */
export const storedPullRequest = pullRequestResource.omit({ conversationId: true });

export const conversationDetail = conversationResource
  .extend({
    runs: z.array(runResource),
    sandbox: z.object({ id: z.string(), name: z.string(), phase: z.string() }),
    queued: z.number().int().describe("Messages waiting for the current turn to end."),
  })
  .meta({ id: "ConversationDetail" });

export const sendMessageResult = z
  .object({ run: runResource, queued: z.boolean().describe("True when another turn is running: this one starts after it.") })
  .meta({ id: "MessageAccepted" });

export const runEventResource = z
  .object({
    seq: z.number().int().describe("The event's number in its run (a run's stream) or its conversation (a conversation's stream); the SSE id."),
    runSeq: z.number().int(),
    runId: z.string(),
    type: z.string().describe("message_delta, message, thinking, tool_call, tool_result, file_change, todo, plan, usage, status, error, approval."),
    at: z.string(),
  })
  .catchall(z.unknown())
  .meta({ id: "RunEvent" });

export const streamQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional().describe("Resume after this sequence number (like Last-Event-ID)."),
    follow: z.enum(["true", "false"]).optional().describe("false: send what exists and end (default true: stay open until the run is over)."),
  })
  .strict();

export const listConversationsQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict();

export const listRunsQuery = z
  .object({
    project: z.string().min(1).max(100).optional(),
    status: z.enum(RUN_STATUSES).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();

const approvalRule = z.string().superRefine((value, ctx) => {
  const problem = approvalRuleProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: `approval rule ${problem}` });
});

export const agentSettingsChange = z
  .object({
    permissionMode: z.enum(PERMISSION_MODES).describe("bypass (default): nothing waits; approve: tool calls matching approvalRules wait for a person."),
    approvalRules: z.array(approvalRule).max(100).describe("`Tool` or `Tool(glob)` on its main input, e.g. `Bash(git push*)`, `WebFetch`, `*`."),
    limits: limits.partial(),
  })
  .partial()
  .strict()
  .meta({ id: "AgentSettingsChange" });

export const agentSettingsOut = z
  .object({ permissionMode: z.enum(PERMISSION_MODES), approvalRules: z.array(z.string()), limits })
  .meta({ id: "AgentSettings" });

export const agentsList = z
  .object({
    items: z.array(
      z.object({
        agent: z.string(),
        package: z.string().nullable(),
        version: z.string().nullable(),
        installed: z.boolean().describe("Fetched already; otherwise the first run installs it with npm."),
      }),
    ),
  })
  .meta({ id: "AgentList" });
