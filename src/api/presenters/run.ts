// Conversations, runs, approvals and run events as the API shows them (schemas/runs.ts).
import { storedPullRequest } from "../../schemas/runs.ts";
import type { ApprovalRow, ConversationRow, RunEventRow, RunRow } from "../../services/runs.ts";

const iso = (date: Date | string | null) => (date === null ? null : new Date(date).toISOString());

export function presentConversation(row: ConversationRow, lastRun: RunRow | null) {
  return {
    id: row.id,
    projectId: row.projectId,
    sandboxId: row.sandboxId,
    agent: row.agent,
    model: row.model,
    title: row.title,
    sessionId: row.sessionId,
    status: lastRun?.status ?? ("idle" as const),
    branch: row.branch,
    baseBranch: row.baseBranch,
    worktree: row.worktree,
    pullRequest: presentPullRequest(row.pullRequest),
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt)!,
    updatedAt: iso(row.updatedAt)!,
  };
}

export function presentRun(row: RunRow) {
  return {
    id: row.id,
    conversationId: row.conversationId,
    sandboxId: row.sandboxId,
    projectId: row.projectId,
    agent: row.agent,
    model: row.model,
    prompt: row.prompt,
    status: row.status,
    reason: row.reason,
    usage: row.usage,
    limits: row.limits,
    eventCount: row.eventSeq,
    createdBy: row.createdBy,
    createdAt: iso(row.createdAt)!,
    startedAt: iso(row.startedAt),
    endedAt: iso(row.endedAt),
  };
}

export function presentApproval(row: ApprovalRow) {
  return {
    id: row.id,
    runId: row.runId,
    tool: row.tool,
    input: row.input,
    toolCallId: row.toolCallId,
    decision: row.decision,
    message: row.message,
    decidedBy: row.decidedBy,
    decidedAt: iso(row.decidedAt),
    createdAt: iso(row.createdAt)!,
  };
}

/** `seq` is the stream's own number (the run's or the conversation's); payload fields follow. */
export function presentRunEvent(row: RunEventRow, seq: number): Record<string, unknown> {
  return { seq, runSeq: row.runSeq, runId: row.runId, type: row.type, at: iso(row.createdAt), ...row.data };
}

/** The stored pull request as the API shows it (null when absent or unreadable). */
function presentPullRequest(stored: Record<string, unknown> | null) {
  const parsed = storedPullRequest.safeParse(stored);
  return parsed.success ? parsed.data : null;
}
