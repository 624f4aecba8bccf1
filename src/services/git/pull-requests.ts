// Pull requests, as use cases: push the branch, then open its pull request on GitHub, or
// update the one already open for that branch (a follow-up never opens a second one), and
// read its state and checks back. The branch is the conversation's when one is named, else
// the one checked out in the sandbox; the default branch is never a head. GitHub is called
// from the host with the project's token credential; the sandbox never sees it.
import type pg from "pg";
import type { Principal } from "../../domain/authorization.ts";
import type { Credential } from "../../domain/credentials.ts";
import { OutpostError } from "../../domain/errors.ts";
import { draftPullRequest, type GitHubRepository, githubRepository, type PullRequestView, pullRequestView } from "../../domain/git/github.ts";
import { findProjectById, type ProjectRow } from "../../store/projects.ts";
import * as store from "../../store/pull-requests.ts";
import { assertRunning, type SandboxRow, type SandboxService } from "../sandboxes.ts";
import type { GitRunner } from "./git-runner.ts";
import { GitHubClient, githubToken, tokenMissing } from "./github-client.ts";

export interface OpenPullRequest {
  title?: string;
  body?: string;
  base?: string;
  draft?: boolean;
  conversationId?: string;
}

export type PullRequestResult = PullRequestView & { conversationId: string | null };

export interface PullRequestDeps {
  pool: pg.Pool;
  sandboxes: Pick<SandboxService, "row">;
  /** A git runner in a running sandbox (services/git/sandbox-git.ts over its link). */
  runner: (sandbox: SandboxRow) => Promise<Pick<GitRunner, "git">>;
  /** Pushes `branch` to the project's remote from the sandbox (the git service's push). */
  push: (sandbox: SandboxRow, branch: string, signal?: AbortSignal) => Promise<void>;
  /** The project's credentials with their values (VariableService.credentials; host side only). */
  credentials: (projectId: string) => Promise<Credential[]>;
  /** Settings' githubApiUrl. */
  apiUrl: string;
  /** Where people open Outpost, for the link line of a drafted body. */
  publicUrl?: () => string;
  fetch?: typeof fetch;
}

export class PullRequestService {
  constructor(private readonly deps: PullRequestDeps) {}

  async open(principal: Principal, sandboxRef: string, input: OpenPullRequest, signal?: AbortSignal): Promise<PullRequestResult> {
    const sandbox = await this.deps.sandboxes.row(principal, sandboxRef, "sandbox.exec");
    assertRunning(sandbox);
    const { project, repo, client } = await this.#github(sandbox);
    const { branch, conversation } = await this.#head(sandbox, input.conversationId);
    const base = input.base ?? conversation?.baseBranch ?? project.defaultBranch ?? "main";
    if (branch === base || branch === project.defaultBranch) {
      throw new OutpostError(
        "PULL_REQUEST_HEAD_INVALID",
        `Branch '${branch}' is the ${branch === base ? "base" : "default"} branch: a pull request needs a branch of its own.`,
        {
          details: { branch, base },
        },
      );
    }

    await this.deps.push(sandbox, branch, signal);

    let pr = await client.findOpen(repo, branch, signal);
    if (pr) {
      const fields = { ...(input.title !== undefined ? { title: input.title } : {}), ...(input.body !== undefined ? { body: input.body } : {}) };
      if (Object.keys(fields).length) pr = await client.update(repo, pr.number, fields, signal);
    } else {
      const draft = input.title === undefined || input.body === undefined ? await this.#draft(sandbox, conversation) : undefined;
      const request = { title: input.title ?? draft?.title ?? branch, body: input.body ?? draft?.body ?? "", head: branch, base, draft: input.draft ?? false };
      try {
        pr = await client.create(repo, request, signal);
      } catch (error) {
        // Opened meanwhile by a concurrent call (GitHub allows one open PR per head and base): use that one.
        const raced = (error as OutpostError).details?.status === 422 ? await client.findOpen(repo, branch, signal) : null;
        if (!raced) throw error;
        pr = raced;
      }
    }
    const view = pullRequestView(pr, await client.checkRuns(repo, pr.head.sha, signal), new Date());
    if (conversation) await store.setConversationPullRequest(this.deps.pool, conversation.id, view);
    return { ...view, conversationId: conversation?.id ?? null };
  }

  /** The pull request's state and checks as GitHub has them now (stored on the conversation too). */
  async refresh(principal: Principal, sandboxRef: string, conversationId?: string, signal?: AbortSignal): Promise<PullRequestResult> {
    const sandbox = await this.deps.sandboxes.row(principal, sandboxRef, "sandbox.read");
    const { repo, client } = await this.#github(sandbox);
    let conversation = conversationId ? await this.#conversation(sandbox, conversationId) : null;
    let number = storedNumber(conversation);
    let branch: string | null = conversation?.branch ?? null;
    if (number === null && branch === null) {
      assertRunning(sandbox);
      branch = await this.#currentBranch(sandbox);
      conversation ??= await store.conversationOnBranch(this.deps.pool, sandbox.id, branch);
      number = storedNumber(conversation);
    }
    if (number === null && branch !== null) number = (await client.findOpen(repo, branch, signal))?.number ?? null;
    if (number === null) {
      throw new OutpostError(
        "PULL_REQUEST_NOT_FOUND",
        `No pull request is known for ${conversation ? `conversation ${conversation.id}` : `branch '${branch}'`}.`,
      );
    }
    const pr = await client.get(repo, number, signal);
    const view = pullRequestView(pr, await client.checkRuns(repo, pr.head.sha, signal), new Date());
    if (conversation) await store.setConversationPullRequest(this.deps.pool, conversation.id, view);
    return { ...view, conversationId: conversation?.id ?? null };
  }

  /** The project, its GitHub repository and a client holding its token; refuses early what cannot work. */
  async #github(sandbox: SandboxRow): Promise<{ project: ProjectRow; repo: GitHubRepository; client: GitHubClient }> {
    const project = await findProjectById(this.deps.pool, sandbox.projectId);
    if (!project) throw new OutpostError("SANDBOX_NOT_FOUND", `Sandbox ${sandbox.id} has no project.`);
    const repo = project.repoUrl ? githubRepository(project.repoUrl) : null;
    if (!repo) {
      throw new OutpostError(
        "GITHUB_REPOSITORY_UNKNOWN",
        project.repoUrl
          ? `Project '${project.name}''s repository ${project.repoUrl} is not a GitHub repository (https://HOST/OWNER/REPO or git@HOST:OWNER/REPO).`
          : `Project '${project.name}' has no repository to open a pull request on.`,
      );
    }
    const { tokenVariable } = await store.projectGitSettings(this.deps.pool, project.id);
    const token = githubToken(await this.deps.credentials(project.id), tokenVariable);
    if (!token) throw tokenMissing(project, tokenVariable);
    return { project, repo, client: new GitHubClient({ apiUrl: this.deps.apiUrl, token: token.value, fetch: this.deps.fetch }) };
  }

  /** The head branch: the conversation's, else what the sandbox has checked out. */
  async #head(sandbox: SandboxRow, conversationId?: string): Promise<{ branch: string; conversation: store.ConversationBranchRow | null }> {
    const named = conversationId ? await this.#conversation(sandbox, conversationId) : null;
    if (named?.branch) return { branch: named.branch, conversation: named };
    const branch = await this.#currentBranch(sandbox);
    return { branch, conversation: named ?? (await store.conversationOnBranch(this.deps.pool, sandbox.id, branch)) };
  }

  async #conversation(sandbox: SandboxRow, id: string): Promise<store.ConversationBranchRow> {
    const row = await store.conversationBranch(this.deps.pool, id);
    // Another sandbox's conversation is as missing as one that never was.
    if (!row || row.sandboxId !== sandbox.id) throw new OutpostError("CONVERSATION_NOT_FOUND", `Sandbox ${sandbox.name} has no conversation ${id}.`);
    return row;
  }

  async #currentBranch(sandbox: SandboxRow): Promise<string> {
    const runner = await this.deps.runner(sandbox);
    const out = await runner.git(["symbolic-ref", "--quiet", "--short", "HEAD"], { timeoutMs: 30_000, maxOutputBytes: 4096 });
    const branch = out.stdout.toString("utf8").trim();
    if (out.code !== 0 || !branch) {
      throw new OutpostError("PULL_REQUEST_HEAD_INVALID", `Sandbox ${sandbox.name} has no branch checked out (a detached HEAD, or no repository).`);
    }
    return branch;
  }

  async #draft(sandbox: SandboxRow, conversation: store.ConversationBranchRow | null) {
    if (!conversation) return undefined;
    const publicUrl = this.deps.publicUrl?.().replace(/\/+$/, "");
    return draftPullRequest({
      title: conversation.title,
      turns: await store.conversationTurns(this.deps.pool, conversation.id),
      link: publicUrl ? `${publicUrl}/sandboxes/${encodeURIComponent(sandbox.id)}/chat?conversation=${encodeURIComponent(conversation.id)}` : null,
    });
  }
}

function storedNumber(conversation: store.ConversationBranchRow | null): number | null {
  const number = conversation?.pullRequest?.number;
  return typeof number === "number" && Number.isInteger(number) && number > 0 ? number : null;
}
