// Conversations, runs, their events and approvals (migrations/0010). Event numbers are taken
// from a counter on the run's and the conversation's row inside the inserting transaction:
// the row lock orders writers, so numbers have no gaps and become visible in order, and a
// reader asking for `seq > last seen` misses nothing. NOTIFY (transactional) wakes streams.
import type { RunEventPayload, RunStatus, RunUsage } from "../domain/agents/events.ts";
import type { Role } from "../domain/authorization.ts";
import type { Queryable } from "./database.ts";

export const RUN_EVENTS_CHANNEL = "outpost_run_events";

export interface ConversationRow {
  id: string;
  projectId: string;
  sandboxId: string;
  createdBy: string;
  agent: string;
  model: string | null;
  command: string | null;
  title: string;
  sessionId: string | null;
  eventSeq: number;
  /** The branch its turns work on (made before the first one), where it starts, its worktree. */
  branch: string | null;
  baseBranch: string | null;
  worktree: string | null;
  /** Its pull request as last seen (services/git/pull-requests.ts). */
  pullRequest: Record<string, unknown> | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface RunLimits {
  maxDurationSec: number;
  maxTurns: number | null;
  maxCostUsd: number | null;
  stallTimeoutSec: number;
}

export interface RunRow {
  id: string;
  conversationId: string;
  projectId: string;
  sandboxId: string;
  createdBy: string;
  agent: string;
  model: string | null;
  prompt: string;
  status: RunStatus;
  reason: string | null;
  processId: string | null;
  journalSeq: number;
  eventSeq: number;
  usage: RunUsage | null;
  limits: RunLimits;
  cancelReason: string | null;
  cancelStatus: "cancelled" | "failed" | null;
  outcome: "succeeded" | "failed" | null;
  lastOutputAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

export interface RunEventRow {
  conversationId: string;
  conversationSeq: number;
  runId: string;
  runSeq: number;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
}

export interface ApprovalRow {
  id: string;
  runId: string;
  requestId: string;
  tool: string;
  input: unknown;
  toolCallId: string | null;
  decision: "pending" | "allow" | "deny";
  message: string | null;
  decidedBy: string | null;
  decidedAt: Date | null;
  answered: boolean;
  createdAt: Date;
}

const CONVERSATION = `c.id, c.project_id as "projectId", c.sandbox_id as "sandboxId", c.created_by as "createdBy", c.agent, c.model,
  c.command, c.title, c.session_id as "sessionId", c.event_seq::float8 as "eventSeq",
  c.branch, c.base_branch as "baseBranch", c.worktree, c.pull_request as "pullRequest", c.created_at as "createdAt", c.updated_at as "updatedAt"`;
const RUN = `r.id, r.conversation_id as "conversationId", r.project_id as "projectId", r.sandbox_id as "sandboxId", r.created_by as "createdBy",
  r.agent, r.model, r.prompt, r.status, r.reason, r.process_id as "processId", r.journal_seq::float8 as "journalSeq",
  r.event_seq::float8 as "eventSeq", r.usage, r.limits, r.cancel_reason as "cancelReason", r.cancel_status as "cancelStatus", r.outcome, r.last_output_at as "lastOutputAt",
  r.created_at as "createdAt", r.started_at as "startedAt", r.ended_at as "endedAt"`;
const EVENT = `conversation_id as "conversationId", conversation_seq::float8 as "conversationSeq", run_id as "runId",
  run_seq::float8 as "runSeq", type, data, created_at as "createdAt"`;
const APPROVAL = `id, run_id as "runId", request_id as "requestId", tool, input, tool_call_id as "toolCallId", decision, message,
  decided_by as "decidedBy", decided_at as "decidedAt", answered, created_at as "createdAt"`;

/** Membership filter: rows of projects the user is a member of. */
const MEMBER = `exists (select 1 from project_members m where m.project_id = c.project_id and m.user_id = $1)`;

// ---- conversations ----------------------------------------------------------------------

export async function insertConversation(
  tx: Queryable,
  row: Pick<ConversationRow, "id" | "projectId" | "sandboxId" | "createdBy" | "agent" | "model" | "command" | "title" | "branch" | "baseBranch" | "worktree">,
): Promise<ConversationRow> {
  const { rows } = await tx.query(
    `insert into conversations as c (id, project_id, sandbox_id, created_by, agent, model, command, title, branch, base_branch, worktree)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning ${CONVERSATION}`,
    [row.id, row.projectId, row.sandboxId, row.createdBy, row.agent, row.model, row.command, row.title, row.branch, row.baseBranch, row.worktree],
  );
  return rows[0] as ConversationRow;
}

export async function conversationById(db: Queryable, id: string, forUpdate = false): Promise<ConversationRow | null> {
  const { rows } = await db.query(`select ${CONVERSATION} from conversations c where c.id = $1 ${forUpdate ? "for update" : ""}`, [id]);
  return (rows[0] as ConversationRow | undefined) ?? null;
}

export async function listConversations(
  db: Queryable,
  query: { userId: string; projectId?: string; sandboxId?: string; limit: number },
): Promise<ConversationRow[]> {
  const { rows } = await db.query(
    `select ${CONVERSATION} from conversations c
      where ${MEMBER} and ($2::text is null or c.project_id = $2) and ($3::text is null or c.sandbox_id = $3)
      order by c.seq desc limit $4`,
    [query.userId, query.projectId ?? null, query.sandboxId ?? null, query.limit],
  );
  return rows as ConversationRow[];
}

export async function setConversationSession(tx: Queryable, id: string, sessionId: string): Promise<void> {
  await tx.query("update conversations set session_id = $2, updated_at = now() where id = $1", [id, sessionId]);
}

/** Records the branch (and worktree) a conversation works on. */
export async function setConversationBranch(
  db: Queryable,
  id: string,
  git: { branch: string; baseBranch: string | null; worktree: string | null },
): Promise<void> {
  await db.query("update conversations set branch = $2, base_branch = $3, worktree = $4, updated_at = now() where id = $1", [
    id,
    git.branch,
    git.baseBranch,
    git.worktree,
  ]);
}

/** The branches and worktrees a sandbox's conversations work on. */
export async function conversationBranches(db: Queryable, sandboxId: string): Promise<{ id: string; branch: string; worktree: string | null }[]> {
  const { rows } = await db.query("select id, branch, worktree from conversations where sandbox_id = $1 and branch is not null order by seq", [sandboxId]);
  return rows as { id: string; branch: string; worktree: string | null }[];
}

export async function deleteConversation(tx: Queryable, id: string): Promise<void> {
  await tx.query("delete from conversations where id = $1", [id]);
}

// ---- runs -------------------------------------------------------------------------------

export async function insertRun(
  tx: Queryable,
  row: Pick<RunRow, "id" | "conversationId" | "projectId" | "sandboxId" | "createdBy" | "agent" | "model" | "prompt" | "limits">,
): Promise<RunRow> {
  const { rows } = await tx.query(
    `insert into runs as r (id, conversation_id, project_id, sandbox_id, created_by, agent, model, prompt, status, limits)
     values ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9) returning ${RUN}`,
    [row.id, row.conversationId, row.projectId, row.sandboxId, row.createdBy, row.agent, row.model, row.prompt, JSON.stringify(row.limits)],
  );
  await tx.query("update conversations set updated_at = now() where id = $1", [row.conversationId]);
  return rows[0] as RunRow;
}

export async function runById(db: Queryable, id: string, forUpdate = false): Promise<RunRow | null> {
  const { rows } = await db.query(`select ${RUN} from runs r where r.id = $1 ${forUpdate ? "for update" : ""}`, [id]);
  return (rows[0] as RunRow | undefined) ?? null;
}

export async function runsOfConversation(db: Queryable, conversationId: string): Promise<RunRow[]> {
  const { rows } = await db.query(`select ${RUN} from runs r where r.conversation_id = $1 order by r.seq`, [conversationId]);
  return rows as RunRow[];
}

/** The conversation's newest run (its status is the conversation's). */
export async function lastRunOf(db: Queryable, conversationId: string): Promise<RunRow | null> {
  const { rows } = await db.query(`select ${RUN} from runs r where r.conversation_id = $1 order by r.seq desc limit 1`, [conversationId]);
  return (rows[0] as RunRow | undefined) ?? null;
}

export async function listRuns(db: Queryable, query: { userId: string; projectId?: string; status?: RunStatus; limit: number }): Promise<RunRow[]> {
  const { rows } = await db.query(
    `select ${RUN} from runs r join conversations c on c.id = r.conversation_id
      where ${MEMBER} and ($2::text is null or r.project_id = $2) and ($3::text is null or r.status = $3)
      order by r.seq desc limit $4`,
    [query.userId, query.projectId ?? null, query.status ?? null, query.limit],
  );
  return rows as RunRow[];
}

/** Runs that are not over (the engine drives these), oldest first. */
export async function activeRuns(db: Queryable): Promise<RunRow[]> {
  const { rows } = await db.query(`select ${RUN} from runs r where r.status in ('queued', 'running', 'waiting') order by r.seq`);
  return rows as RunRow[];
}

/** The oldest queued run of a conversation whose runs are otherwise all over: the next to start. */
export async function nextQueuedRun(db: Queryable, conversationId: string): Promise<RunRow | null> {
  const { rows } = await db.query(
    `select ${RUN} from runs r where r.conversation_id = $1 and r.status = 'queued'
        and not exists (select 1 from runs o where o.conversation_id = $1 and o.status in ('running', 'waiting'))
      order by r.seq limit 1`,
    [conversationId],
  );
  return (rows[0] as RunRow | undefined) ?? null;
}

export async function updateRun(
  tx: Queryable,
  id: string,
  fields: Partial<
    Pick<
      RunRow,
      "status" | "reason" | "processId" | "journalSeq" | "usage" | "cancelReason" | "cancelStatus" | "outcome" | "lastOutputAt" | "startedAt" | "endedAt"
    >
  >,
): Promise<void> {
  const columns: Record<string, string> = {
    status: "status",
    reason: "reason",
    processId: "process_id",
    journalSeq: "journal_seq",
    usage: "usage",
    cancelReason: "cancel_reason",
    cancelStatus: "cancel_status",
    outcome: "outcome",
    lastOutputAt: "last_output_at",
    startedAt: "started_at",
    endedAt: "ended_at",
  };
  const sets: string[] = [];
  const values: unknown[] = [id];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    values.push(key === "usage" && value !== null ? JSON.stringify(value) : value);
    sets.push(`${columns[key]} = $${values.length}`);
  }
  if (sets.length > 0) await tx.query(`update runs set ${sets.join(", ")} where id = $1`, values);
}

// ---- events -----------------------------------------------------------------------------

/** Appends events of one run in order, numbering them for the run and the conversation. */
export async function appendRunEvents(
  tx: Queryable,
  run: { id: string; conversationId: string },
  events: { payload: RunEventPayload; journalSeq: number | null }[],
): Promise<RunEventRow[]> {
  if (events.length === 0) return [];
  // Conversation first, then run: every writer takes the two locks in this order.
  const conversation = await tx.query("update conversations set event_seq = event_seq + $2 where id = $1 returning event_seq::float8 as seq", [
    run.conversationId,
    events.length,
  ]);
  const runRow = await tx.query("update runs set event_seq = event_seq + $2 where id = $1 returning event_seq::float8 as seq", [run.id, events.length]);
  const lastConversation = (conversation.rows[0] as { seq: number }).seq;
  const lastRun = (runRow.rows[0] as { seq: number }).seq;
  const firstConversation = lastConversation - events.length + 1;
  const firstRun = lastRun - events.length + 1;
  const { rows } = await tx.query(
    `insert into run_events (conversation_id, conversation_seq, run_id, run_seq, type, data, journal_seq)
     select $1, $2 + e.i - 1, $3, $4 + e.i - 1, e.value ->> 'type', e.value -> 'data', (e.value ->> 'journal_seq')::bigint
       from jsonb_array_elements($5::jsonb) with ordinality as e(value, i)
     returning ${EVENT}`,
    [
      run.conversationId,
      firstConversation,
      run.id,
      firstRun,
      JSON.stringify(events.map((e) => ({ type: e.payload.type, data: withoutType(e.payload), journal_seq: e.journalSeq }))),
    ],
  );
  await tx.query("select pg_notify($1, $2)", [RUN_EVENTS_CHANNEL, run.conversationId]);
  return (rows as RunEventRow[]).sort((a, b) => a.runSeq - b.runSeq);
}

function withoutType(payload: RunEventPayload): Record<string, unknown> {
  const { type: _type, ...rest } = payload;
  return rest;
}

export async function runEventsAfter(db: Queryable, runId: string, afterSeq: number, limit: number): Promise<RunEventRow[]> {
  const { rows } = await db.query(`select ${EVENT} from run_events where run_id = $1 and run_seq > $2 order by run_seq limit $3`, [runId, afterSeq, limit]);
  return rows as RunEventRow[];
}

export async function conversationEventsAfter(db: Queryable, conversationId: string, afterSeq: number, limit: number): Promise<RunEventRow[]> {
  const { rows } = await db.query(`select ${EVENT} from run_events where conversation_id = $1 and conversation_seq > $2 order by conversation_seq limit $3`, [
    conversationId,
    afterSeq,
    limit,
  ]);
  return rows as RunEventRow[];
}

// ---- approvals --------------------------------------------------------------------------

/** A question from the agent; `decision` is set at once when no person needs to answer it. */
export async function insertApproval(
  tx: Queryable,
  row: Pick<ApprovalRow, "id" | "runId" | "requestId" | "tool" | "input" | "toolCallId" | "decision">,
): Promise<ApprovalRow> {
  const { rows } = await tx.query(
    `insert into run_approvals (id, run_id, request_id, tool, input, tool_call_id, decision, decided_at)
     values ($1, $2, $3, $4, $5, $6, $7, case when $7 = 'pending' then null else now() end)
     on conflict (run_id, request_id) do update set tool = excluded.tool returning ${APPROVAL}`,
    [row.id, row.runId, row.requestId, row.tool, JSON.stringify(row.input ?? null), row.toolCallId, row.decision],
  );
  return rows[0] as ApprovalRow;
}

export async function approvalById(db: Queryable, runId: string, id: string, forUpdate = false): Promise<ApprovalRow | null> {
  const { rows } = await db.query(`select ${APPROVAL} from run_approvals where run_id = $1 and id = $2 ${forUpdate ? "for update" : ""}`, [runId, id]);
  return (rows[0] as ApprovalRow | undefined) ?? null;
}

export async function approvalsOfRun(db: Queryable, runId: string): Promise<ApprovalRow[]> {
  const { rows } = await db.query(`select ${APPROVAL} from run_approvals where run_id = $1 order by created_at`, [runId]);
  return rows as ApprovalRow[];
}

export async function decideApproval(
  tx: Queryable,
  id: string,
  decision: { decision: "allow" | "deny"; message: string | null; userId: string },
): Promise<void> {
  await tx.query("update run_approvals set decision = $2, message = $3, decided_by = $4, decided_at = now() where id = $1", [
    id,
    decision.decision,
    decision.message,
    decision.userId,
  ]);
}

export async function markApprovalAnswered(db: Queryable, id: string): Promise<void> {
  await db.query("update run_approvals set answered = true where id = $1", [id]);
}

/** The user's role on a project (null: not a member) and the project's name, for authorization. */
export async function projectAccess(db: Queryable, projectId: string, userId: string): Promise<{ name: string; role: Role | null } | null> {
  const { rows } = await db.query(
    `select p.name, (select m.role from project_members m where m.project_id = p.id and m.user_id = $2) as role from projects p where p.id = $1`,
    [projectId, userId],
  );
  return (rows[0] as { name: string; role: Role | null } | undefined) ?? null;
}

export type { Queryable };
