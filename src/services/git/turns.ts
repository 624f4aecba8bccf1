// Git around an agent turn (the run engine's TurnHooks):
//   before — the conversation's branch (`outpost/<slug>`, made from the branch checked out
//            when its first turn starts, uncommitted changes carried along; later turns
//            switch back to it when someone switched away), a checkpoint of the working
//            tree, and the trailers the turn's commits get (who asked, which conversation);
//   after  — when the conversation has a pull request, what the turn changed is committed
//            (if the agent did not) and pushed, so the same pull request follows.
// Neither fails the turn: the engine logs what went wrong and the agent works on.
import type pg from "pg";
import { turnGitEnv, turnTrailers } from "../../domain/git/sandbox-env.ts";
import { conversationBranch } from "../../domain/git/settings.ts";
import { findUser } from "../../store/auth.ts";
import { withTransaction } from "../../store/database.ts";
import { appendEvent } from "../../store/events.ts";
import { findProjectById } from "../../store/projects.ts";
import { conversationById, type RunRow, setConversationBranch } from "../../store/runs.ts";
import type { SupervisorClient } from "../../supervisor/client.ts";
import type { TurnHooks } from "../run-engine.ts";
import type { CommandVariables } from "../variables.ts";
import type { CheckpointService } from "./checkpoints.ts";
import type { GitRunner } from "./git-runner.ts";
import * as ops from "./operations.ts";
import { sandboxGitRunner } from "./sandbox-git.ts";

export interface GitTurnDeps {
  pool: pg.Pool;
  projectVariables: (projectId: string) => Promise<CommandVariables>;
  checkpoints: Pick<CheckpointService, "create">;
  /** A runner in the sandbox for `after` (no client is at hand then). */
  runnerFor: (sandbox: { id: string; projectId: string }) => Promise<GitRunner>;
  /** Queues behind the sandbox's other changing git operations. */
  serialize: <T>(sandboxId: string, fn: () => Promise<T>, signal?: AbortSignal) => Promise<T>;
  publicUrl?: () => string;
  log: { warn: (obj: object, msg: string) => void };
}

export function gitTurnHooks(deps: GitTurnDeps): TurnHooks {
  return {
    async before(run: RunRow, client: SupervisorClient, signal: AbortSignal) {
      const { env } = await deps.projectVariables(run.projectId);
      const workspace = sandboxGitRunner(client, env);
      const sandbox = { id: run.sandboxId, projectId: run.projectId };
      const user = await findUser(deps.pool, run.createdBy);
      const url = deps.publicUrl?.();
      const trailers = turnTrailers({
        coAuthor: user ? { name: user.name, email: `${user.name}@users.outpost.local` } : null,
        conversationId: run.conversationId,
        ...(url ? { conversationUrl: `${url}/conversations/${run.conversationId}` } : {}),
      });
      const gitEnv = turnGitEnv(trailers);
      if (!(await ops.hasRepository(workspace, signal))) return { env: gitEnv };
      return deps.serialize(
        sandbox.id,
        async () => {
          signal.throwIfAborted();
          const cwd = await onConversationBranch(deps, workspace, run, signal);
          const runner = cwd ? sandboxGitRunner(client, env, cwd) : workspace;
          try {
            await deps.checkpoints.create(sandbox, runner, { reason: "turn", conversationId: run.conversationId, runId: run.id }, signal);
          } catch (error) {
            deps.log.warn({ runId: run.id, err: error }, "no checkpoint before this turn");
          }
          return { env: gitEnv, ...(cwd ? { cwd } : {}) };
        },
        signal,
      );
    },

    async after(run: RunRow) {
      const conversation = await conversationById(deps.pool, run.conversationId);
      const pr = conversation?.pullRequest as { state?: string } | null | undefined;
      if (!conversation?.branch || !pr || pr.state !== "open") return;
      const branch = conversation.branch;
      const runner = await deps.runnerFor({ id: run.sandboxId, projectId: run.projectId });
      await deps.serialize(run.sandboxId, async () => {
        if ((await ops.currentBranch(runner)) !== branch) return;
        const changed = !(await ops.status(runner)).clean;
        if (changed) {
          const subject = run.prompt.trim().split("\n")[0]?.slice(0, 72) || "Agent changes";
          await ops.commit(runner, { message: subject, trailers: turnTrailers({ conversationId: run.conversationId }) });
        }
        await ops.push(runner, branch);
        const sha = await ops.headSha(runner);
        // For people (the activity timeline) and for whoever waits on the pull request to follow.
        await withTransaction(deps.pool, (tx) =>
          appendEvent(tx, {
            type: "git.pushed",
            ownerId: run.createdBy,
            projectId: run.projectId,
            data: { sandboxId: run.sandboxId, conversationId: run.conversationId, runId: run.id, branch, sha, committed: changed },
          }),
        );
      });
    },
  };
}

/**
 * Puts the conversation on its branch: in its own worktree (made on the first turn; its
 * folder is returned as the turn's working folder), or in /workspace, switching back to its
 * branch when someone switched away, and making the branch on the first turn from the base
 * the conversation names (a local branch, else origin's) or from what is checked out.
 */
async function onConversationBranch(deps: GitTurnDeps, runner: GitRunner, run: RunRow, signal: AbortSignal): Promise<string | null> {
  const conversation = await conversationById(deps.pool, run.conversationId);
  if (!conversation) return null;
  const branch = conversation.branch ?? conversationBranch(conversation.title, conversation.id);
  const current = await ops.currentBranch(runner, signal);
  const baseBranch = conversation.baseBranch ?? current;
  if (!conversation.branch || !conversation.baseBranch) {
    await setConversationBranch(deps.pool, conversation.id, { branch, baseBranch, worktree: conversation.worktree });
  }
  const exists = await ops.branchExists(runner, branch, signal);
  const start = exists ? null : await baseCommit(runner, conversation.baseBranch, signal);
  if (conversation.worktree) {
    if (!(await ops.worktreePaths(runner, signal)).includes(conversation.worktree)) {
      await ops.addWorktree(runner, { path: conversation.worktree, branch, create: !exists, start }, signal);
    }
    return conversation.worktree;
  }
  if (current === branch) return null;
  if (exists) await ops.switchBranch(runner, branch, signal);
  else await ops.createBranch(runner, { name: branch, switch: true, ...(start ? { from: start } : {}) }, signal);
  return null;
}

/** The commit a conversation's branch starts from: its base branch (local, else origin's); null: HEAD. */
async function baseCommit(runner: GitRunner, base: string | null, signal: AbortSignal): Promise<string | null> {
  if (!base) return null;
  for (const ref of [`refs/heads/${base}`, `refs/remotes/origin/${base}`]) {
    const out = await runner.git(["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { signal });
    if (out.code === 0) return out.stdout.toString().trim();
  }
  return null;
}
