// Conversations with an agent and their runs, as use cases: who may do what (the project's
// role table), what is written, and what the engine is asked to do. A message becomes a
// queued run; the engine starts it when the conversation's previous run is over, so a
// message sent during a turn waits for the next one.
import type pg from "pg";
import type { AgentName } from "../domain/agents/adapter.ts";
import type { RunStatus } from "../domain/agents/events.ts";
import { agentAdapter } from "../domain/agents/registry.ts";
import { agentSettings } from "../domain/agents/settings.ts";
import { type Principal, type ProjectAction, requireAllowed } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import { conversationBranch, conversationWorktree } from "../domain/git/settings.ts";
import { newId } from "../domain/ids.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import { findProjectById } from "../store/projects.ts";
import * as store from "../store/runs.ts";
import { findSandbox } from "../store/sandboxes.ts";
import { isOver, type RunEngine } from "./run-engine.ts";

export type { ApprovalRow, ConversationRow, RunEventRow, RunRow } from "../store/runs.ts";

const TITLE_CHARS = 80;

export interface ConversationWithRuns {
  conversation: store.ConversationRow;
  runs: store.RunRow[];
  sandbox: { id: string; name: string; phase: string };
}

export class RunService {
  constructor(
    private readonly pool: pg.Pool,
    private readonly engine: RunEngine,
  ) {}

  async createConversation(
    principal: Principal,
    sandboxRef: string,
    input: { agent: AgentName; model?: string; title?: string; command?: string; branch?: string; worktree?: boolean },
  ): Promise<store.ConversationRow> {
    const adapter = agentAdapter(input.agent);
    if (!adapter) throw new OutpostError("AGENT_NOT_SUPPORTED", `Agent '${input.agent}' is not supported by this Outpost.`);
    if ((input.agent === "custom") !== (input.command !== undefined)) {
      throw new OutpostError("AGENT_NOT_SUPPORTED", input.agent === "custom" ? "The custom agent needs a command." : "Only the custom agent takes a command.");
    }
    return withTransaction(this.pool, async (tx) => {
      const sandbox = await findSandbox(tx, principal.userId, sandboxRef);
      if (!sandbox) throw new OutpostError("SANDBOX_NOT_FOUND", `No sandbox '${sandboxRef}'.`);
      requireAllowed(principal, "run.create", {
        kind: "sandbox",
        ref: sandboxRef,
        role: sandbox.role,
        project: { id: sandbox.projectId, name: sandbox.projectName },
      });
      if (sandbox.phase === "deleted" || sandbox.phase === "deleting") {
        throw new OutpostError("CONVERSATION_SANDBOX_GONE", `Sandbox ${sandbox.name} is deleted.`);
      }
      const id = newId("conversation");
      const title = input.title ?? "New conversation";
      // Its branch is named now; the first turn makes it (from `branch`, or what is checked out then).
      const branch = conversationBranch(title, id);
      const conversation = await store.insertConversation(tx, {
        id,
        projectId: sandbox.projectId,
        sandboxId: sandbox.id,
        createdBy: principal.userId,
        agent: input.agent,
        model: input.model ?? null,
        command: input.command ?? null,
        title,
        branch,
        baseBranch: input.branch ?? null,
        worktree: input.worktree ? conversationWorktree(branch) : null,
      });
      await appendEvent(tx, {
        type: "conversation.created",
        ownerId: principal.userId,
        projectId: sandbox.projectId,
        data: { conversationId: conversation.id, sandboxId: sandbox.id, agent: input.agent },
      });
      return conversation;
    });
  }

  /** A new turn: queued, and started as soon as the conversation's previous run is over. */
  async sendMessage(principal: Principal, conversationId: string, text: string): Promise<{ run: store.RunRow; queued: boolean }> {
    const run = await withTransaction(this.pool, async (tx) => {
      const conversation = await this.#conversation(tx, principal, conversationId, "run.create", true);
      const sandbox = await findSandbox(tx, principal.userId, conversation.sandboxId);
      if (!sandbox || sandbox.phase === "deleted" || sandbox.phase === "deleting") {
        throw new OutpostError("CONVERSATION_SANDBOX_GONE", `The sandbox of conversation ${conversation.id} is deleted.`);
      }
      const project = await findProjectById(tx, conversation.projectId);
      const { limits, permissionMode } = agentSettings(project?.agent);
      assertCanAsk(conversation.agent, permissionMode);
      const runs = await store.runsOfConversation(tx, conversation.id);
      if (runs.length === 0 && conversation.title === "New conversation") {
        await tx.query("update conversations set title = $2 where id = $1", [conversation.id, titleFrom(text)]);
      }
      const run = await store.insertRun(tx, {
        id: newId("run"),
        conversationId: conversation.id,
        projectId: conversation.projectId,
        sandboxId: conversation.sandboxId,
        createdBy: principal.userId,
        agent: conversation.agent,
        model: conversation.model,
        prompt: text,
        limits,
      });
      const ahead = runs.some((r) => !isOver(r.status));
      await store.appendRunEvents(tx, run, [
        {
          payload: ahead
            ? { type: "status", status: "queued", reason: "waiting for the conversation's current turn to end" }
            : { type: "status", status: "queued" },
          journalSeq: null,
        },
      ]);
      await appendEvent(tx, {
        type: "run.created",
        ownerId: principal.userId,
        projectId: run.projectId,
        data: { runId: run.id, conversationId: conversation.id, sandboxId: run.sandboxId },
      });
      return { run, queued: ahead };
    });
    this.engine.kick(conversationId);
    return run;
  }

  async getConversation(principal: Principal, conversationId: string): Promise<ConversationWithRuns> {
    const conversation = await this.#conversation(this.pool, principal, conversationId, "run.read");
    const runs = await store.runsOfConversation(this.pool, conversation.id);
    const { rows } = await this.pool.query("select id, name, phase from sandboxes where id = $1", [conversation.sandboxId]);
    return { conversation, runs, sandbox: rows[0] as { id: string; name: string; phase: string } };
  }

  async listConversations(principal: Principal, filter: { sandboxRef?: string; projectId?: string; limit: number }): Promise<store.ConversationRow[]> {
    let sandboxId: string | undefined;
    if (filter.sandboxRef !== undefined) {
      const sandbox = await findSandbox(this.pool, principal.userId, filter.sandboxRef);
      if (!sandbox) throw new OutpostError("SANDBOX_NOT_FOUND", `No sandbox '${filter.sandboxRef}'.`);
      requireAllowed(principal, "run.read", {
        kind: "sandbox",
        ref: filter.sandboxRef,
        role: sandbox.role,
        project: { id: sandbox.projectId, name: sandbox.projectName },
      });
      sandboxId = sandbox.id;
    }
    return store.listConversations(this.pool, { userId: principal.userId, projectId: filter.projectId, sandboxId, limit: filter.limit });
  }

  async deleteConversation(principal: Principal, conversationId: string): Promise<void> {
    const active = await withTransaction(this.pool, async (tx) => {
      const conversation = await this.#conversation(tx, principal, conversationId, "run.create", true);
      const runs = await store.runsOfConversation(tx, conversation.id);
      return { conversation, running: runs.filter((r) => !isOver(r.status)) };
    });
    // Its runs end first, so no agent keeps working for a conversation nobody can see.
    for (const run of active.running) await this.engine.cancel(run.id, "the conversation was deleted").catch(() => {});
    await withTransaction(this.pool, async (tx) => {
      await store.deleteConversation(tx, conversationId);
      await appendEvent(tx, {
        type: "conversation.deleted",
        ownerId: principal.userId,
        projectId: active.conversation.projectId,
        data: { conversationId },
      });
    });
  }

  async getRun(principal: Principal, runId: string): Promise<{ run: store.RunRow; approvals: store.ApprovalRow[] }> {
    const run = await this.#run(principal, runId, "run.read");
    return { run, approvals: await store.approvalsOfRun(this.pool, run.id) };
  }

  async listRuns(principal: Principal, filter: { projectId?: string; status?: RunStatus; limit: number }): Promise<store.RunRow[]> {
    return store.listRuns(this.pool, { userId: principal.userId, ...filter });
  }

  async cancelRun(principal: Principal, runId: string): Promise<store.RunRow> {
    const run = await this.#run(principal, runId, "run.create");
    await this.engine.cancel(run.id, `cancelled by ${principal.userId}`);
    return (await store.runById(this.pool, run.id))!;
  }

  async decide(principal: Principal, runId: string, approvalId: string, answer: { decision: "allow" | "deny"; message?: string }): Promise<store.ApprovalRow> {
    const run = await this.#run(principal, runId, "run.approve");
    return this.engine.decide(run.id, approvalId, { allow: answer.decision === "allow", message: answer.message ?? null, userId: principal.userId });
  }

  /** Events of a run or a conversation after a sequence number, for streams (membership checked by the caller once). */
  runEvents(runId: string, afterSeq: number, limit: number): Promise<store.RunEventRow[]> {
    return store.runEventsAfter(this.pool, runId, afterSeq, limit);
  }

  conversationEvents(conversationId: string, afterSeq: number, limit: number): Promise<store.RunEventRow[]> {
    return store.conversationEventsAfter(this.pool, conversationId, afterSeq, limit);
  }

  lastRunOf(conversationId: string): Promise<store.RunRow | null> {
    return store.lastRunOf(this.pool, conversationId);
  }

  /** The run as it stands (streams check whether it is over). */
  runNow(runId: string): Promise<store.RunRow | null> {
    return store.runById(this.pool, runId);
  }

  async assertCanRead(principal: Principal, ref: { runId?: string; conversationId?: string }): Promise<store.RunRow | store.ConversationRow> {
    if (ref.runId) return this.#run(principal, ref.runId, "run.read");
    return this.#conversation(this.pool, principal, ref.conversationId!, "run.read");
  }

  async #conversation(db: store.Queryable, principal: Principal, id: string, action: ProjectAction, forUpdate = false): Promise<store.ConversationRow> {
    const conversation = await store.conversationById(db, id, forUpdate);
    const access = conversation ? await store.projectAccess(db, conversation.projectId, principal.userId) : null;
    if (!conversation || !access?.role) throw new OutpostError("CONVERSATION_NOT_FOUND", `No conversation '${id}'.`);
    requireAllowed(principal, action, { kind: "project", ref: access.name, role: access.role, project: { id: conversation.projectId, name: access.name } });
    return conversation;
  }

  async #run(principal: Principal, id: string, action: ProjectAction): Promise<store.RunRow> {
    const run = await store.runById(this.pool, id);
    const access = run ? await store.projectAccess(this.pool, run.projectId, principal.userId) : null;
    if (!run || !access?.role) throw new OutpostError("RUN_NOT_FOUND", `No run '${id}'.`);
    requireAllowed(principal, action, { kind: "project", ref: access.name, role: access.role, project: { id: run.projectId, name: access.name } });
    return run;
  }
}

/** In approve mode, an agent that cannot ask before a tool runs would run everything unasked. */
export function assertCanAsk(agent: string, permissionMode: "bypass" | "approve"): void {
  const adapter = agentAdapter(agent);
  if (permissionMode !== "approve" || !adapter || adapter.capabilities.approvals) return;
  throw new OutpostError("AGENT_CANNOT_ASK", `The project wants tool calls approved, and ${agent} cannot ask before it runs a tool.`);
}

function titleFrom(text: string): string {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > TITLE_CHARS ? `${line.slice(0, TITLE_CHARS - 1)}…` : line || "New conversation";
}
