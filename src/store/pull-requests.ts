// What pull requests read and write (migrations/0011): a conversation's branch and its pull
// request, the turns its draft is made from, and the project's git settings.
import type { Queryable } from "./database.ts";

export interface ConversationBranchRow {
  id: string;
  projectId: string;
  sandboxId: string;
  title: string;
  branch: string | null;
  baseBranch: string | null;
  pullRequest: Record<string, unknown> | null;
}

export async function conversationBranch(db: Queryable, id: string): Promise<ConversationBranchRow | null> {
  const { rows } = await db.query(
    `select id, project_id as "projectId", sandbox_id as "sandboxId", title, branch, base_branch as "baseBranch", pull_request as "pullRequest"
       from conversations where id = $1`,
    [id],
  );
  return (rows[0] as ConversationBranchRow | undefined) ?? null;
}

/** The sandbox's newest conversation on `branch`, whose pull request a call without a conversation updates. */
export async function conversationOnBranch(db: Queryable, sandboxId: string, branch: string): Promise<ConversationBranchRow | null> {
  const { rows } = await db.query(
    `select id, project_id as "projectId", sandbox_id as "sandboxId", title, branch, base_branch as "baseBranch", pull_request as "pullRequest"
       from conversations where sandbox_id = $1 and branch = $2 order by seq desc limit 1`,
    [sandboxId, branch],
  );
  return (rows[0] as ConversationBranchRow | undefined) ?? null;
}

/** Each run of the conversation, oldest first: its prompt and the agent's last message. */
export async function conversationTurns(db: Queryable, id: string): Promise<{ prompt: string; summary: string | null }[]> {
  const { rows } = await db.query(
    `select r.prompt,
            (select e.data ->> 'text' from run_events e where e.run_id = r.id and e.type = 'message' order by e.run_seq desc limit 1) as summary
       from runs r where r.conversation_id = $1 order by r.seq`,
    [id],
  );
  return rows as { prompt: string; summary: string | null }[];
}

export async function setConversationPullRequest(db: Queryable, id: string, pullRequest: object): Promise<void> {
  await db.query("update conversations set pull_request = $2, updated_at = now() where id = $1", [id, JSON.stringify(pullRequest)]);
}

/** projects.git: `{ identity?, tokenVariable?, knownHosts?, … }` (the fields pull requests need). */
export async function projectGitSettings(db: Queryable, projectId: string): Promise<{ tokenVariable?: string }> {
  const { rows } = await db.query("select git from projects where id = $1", [projectId]);
  return ((rows[0] as { git?: { tokenVariable?: string } } | undefined)?.git ?? {}) as { tokenVariable?: string };
}
