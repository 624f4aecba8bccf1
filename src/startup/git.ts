// Start-up, git: the git use cases on sandboxes (status, diffs, commits, pushes), their
// checkpoints, pull requests, the `repository` stage of a sandbox's start, and what happens
// around agent turns. Part of the one composition root (src/startup/, called by server.ts).
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { gitRoutes } from "../api/routes/git.ts";
import { pullRequestRoutes } from "../api/routes/pull-requests.ts";
import { OutpostError } from "../domain/errors.ts";
import { repoEndpoint } from "../domain/git/repo-url.ts";
import { gitSandboxEnv } from "../domain/git/sandbox-env.ts";
import { gitSettings } from "../domain/git/settings.ts";
import type { SandboxPreparer } from "../reconciler/sandbox-kind.ts";
import { CheckpointService } from "../services/git/checkpoints.ts";
import { GitService } from "../services/git/git-service.ts";
import { PullRequestService } from "../services/git/pull-requests.ts";
import { prepareRepository } from "../services/git/repository.ts";
import { gitTurnHooks } from "../services/git/turns.ts";
import type { TurnHooks } from "../services/run-engine.ts";
import type { CommandVariables, VariableService } from "../services/variables.ts";
import { findProjectById } from "../store/projects.ts";
import type { SandboxRuntime } from "./sandboxes.ts";

export const REPOSITORY_STAGE = "repository";

/**
 * What commands in a project's sandboxes get: git's environment (identity, ssh through the
 * proxy with pinned host keys, the agent socket), then the project's own variables on top.
 */
export function withGitEnvironment(pool: pg.Pool, forCommands: (projectId: string) => Promise<CommandVariables>) {
  return async (projectId: string): Promise<CommandVariables> => {
    const [variables, project] = await Promise.all([forCommands(projectId), findProjectById(pool, projectId)]);
    const git = gitSettings(project?.git);
    return { env: { ...gitSandboxEnv({ identity: git.identity, knownHosts: git.knownHosts ?? null }), ...variables.env }, secrets: variables.secrets };
  };
}

export interface GitRuntime {
  service: GitService;
  checkpoints: CheckpointService;
  turns: TurnHooks;
  routes(app: FastifyInstance): void;
}

/**
 * The repository stage, bound late: the reconciler is built before the git service (which
 * needs the sandbox runtime's commands), and runs the stage only once started.
 */
export function lateRepositoryStage(
  get: () => GitRuntime | undefined,
  pool: pg.Pool,
  /** Pins the SSH host keys of a repository that has none pinned yet (DeployKeyService.pinHostKeys). */
  pinHostKeys?: (projectId: string, repoUrl: string) => Promise<unknown>,
): SandboxPreparer {
  return {
    stage: REPOSITORY_STAGE,
    when: "after",
    async run(sandbox, progress, signal) {
      const git = get();
      if (!git) return "skipped: git is not set up";
      const project = await findProjectById(pool, sandbox.projectId);
      // A repository URL set (or changed) after its deploy key was made has no host keys yet:
      // pinned now, before anything in the sandbox speaks to it. A failed scan leaves ssh to
      // refuse the unknown host, with its own message.
      if (project?.repoUrl && pinHostKeys && !gitSettings(project.git).knownHosts && repoEndpoint(project.repoUrl)?.transport === "ssh") {
        progress("pinning the repository's SSH host keys");
        await pinHostKeys(project.id, project.repoUrl).catch((error: Error) => progress(error.message.slice(0, 200)));
      }
      const runner = await git.service.runnerFor(sandbox);
      const repoUrl = project?.repoUrl ?? null;
      try {
        return await git.service.serialize(sandbox.id, () =>
          prepareRepository(runner, { repoUrl, defaultBranch: project?.defaultBranch ?? null }, progress, signal),
        );
      } catch (error) {
        // An environment's image without git (a bare debian:<suite>): fine without a repository.
        // From the supervisor (the client's error) or mapped already (an OutpostError): same code.
        if ((error as { code?: string }).code !== "COMMAND_NOT_FOUND") throw error;
        if (!repoUrl) return "skipped: git is not installed in this sandbox's image";
        throw new OutpostError("COMMAND_NOT_FOUND", "git is not installed in this sandbox's image, so the repository cannot be cloned.", {
          fix: "Add `apt-get install -y git ca-certificates` to the environment's setup, or use the image outpost:default.",
        });
      }
    },
    // A kept workspace keeps its checkpoints' objects for now (its rows stay with the old sandbox).
    async removed(sandbox) {
      if (!sandbox.keepWorkspace) await get()?.checkpoints.forget(sandbox.id);
    },
  };
}

export function createGitRuntime(options: {
  pool: pg.Pool;
  dataDir: string;
  sandboxes: SandboxRuntime;
  variables: VariableService;
  projectVariables: (projectId: string) => Promise<CommandVariables>;
  githubApiUrl: string;
  publicUrl: () => string;
  logger: Logger;
}): GitRuntime {
  const log = options.logger.child({ component: "git" });
  const checkpoints = new CheckpointService({ pool: options.pool, dataDir: options.dataDir });
  const service = new GitService({
    pool: options.pool,
    checkpoints,
    commands: options.sandboxes.commands,
    driver: options.sandboxes.driver,
    projectVariables: options.projectVariables,
  });
  const pullRequests = new PullRequestService({
    pool: options.pool,
    sandboxes: options.sandboxes.service,
    runner: (sandbox) => service.runnerFor(sandbox),
    push: (sandbox, branch, signal) => service.pushAs(sandbox, branch, signal),
    credentials: (projectId) => options.variables.credentials(projectId),
    apiUrl: options.githubApiUrl,
    publicUrl: options.publicUrl,
  });
  const turns = gitTurnHooks({
    pool: options.pool,
    projectVariables: options.projectVariables,
    checkpoints,
    runnerFor: (sandbox) => service.runnerFor(sandbox),
    serialize: (id, fn, signal) => service.serialize(id, fn, signal),
    publicUrl: options.publicUrl,
    log,
  });
  return {
    service,
    checkpoints,
    turns,
    routes(app) {
      gitRoutes(app, service);
      pullRequestRoutes(app, pullRequests);
    },
  };
}
