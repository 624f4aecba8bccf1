// Git on a sandbox, as use cases (docs/api.md, "Git"): find the sandbox the caller may act
// on, open a GitRunner over its link with the project's environment, and run one operation.
// Operations that change the repository queue behind each other per sandbox (two commits at
// once would race for git's index lock); reads run freely.

import type pg from "pg";
import type { Principal } from "../../domain/authorization.ts";
import type { Driver } from "../../drivers/driver.ts";
import { findUser } from "../../store/auth.ts";
import { conversationBranches } from "../../store/runs.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import type { SandboxCommands, SupervisorAction } from "../sandbox-commands.ts";
import type { SandboxRow } from "../sandboxes.ts";
import type { CommandVariables } from "../variables.ts";
import type { CheckpointService } from "./checkpoints.ts";
import type { GitRunner } from "./git-runner.ts";
import * as ops from "./operations.ts";
import { sandboxGitRunner } from "./sandbox-git.ts";

export interface GitServiceDeps {
  pool: pg.Pool;
  checkpoints: CheckpointService;
  commands: SandboxCommands;
  driver: Pick<Driver, "connect">;
  projectVariables: (projectId: string) => Promise<CommandVariables>;
}

type Read = "sandbox.files.read";
type Write = "sandbox.files.write";

export class GitService {
  /** Per sandbox: its changing operations, one at a time. */
  readonly #queue = new KeyedQueue();

  constructor(private readonly deps: GitServiceDeps) {}

  /** A runner in a sandbox the control plane already chose (turns, checkpoints, pull requests). */
  async runnerFor(sandbox: Pick<SandboxRow, "id" | "projectId">): Promise<GitRunner> {
    const link = await this.deps.commands.call(() => this.deps.driver.connect(sandbox.id));
    const { env } = await this.deps.projectVariables(sandbox.projectId);
    return sandboxGitRunner(link.client, env);
  }

  /** Runs `fn` after every changing operation queued before it in this sandbox. */
  serialize<T>(sandboxId: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#queue.run(sandboxId, fn, signal);
  }

  async #open(principal: Principal, ref: string, action: SupervisorAction): Promise<{ runner: GitRunner; sandbox: SandboxRow }> {
    const { client, sandbox } = await this.deps.commands.connect(principal, ref, action);
    const { env } = await this.deps.projectVariables(sandbox.projectId);
    return { runner: this.#translated(sandboxGitRunner(client, env)), sandbox };
  }

  /** Supervisor failures become registered codes (the sandbox went away mid-command…). */
  #translated(runner: GitRunner): GitRunner {
    const call = this.deps.commands.call.bind(this.deps.commands);
    return {
      git: (args, options) => call(() => runner.git(args, options)),
      gitOk: (args, options) => call(() => runner.gitOk(args, options)),
      run: (command, options) => call(() => runner.run(command, options)),
      readFile: (path, signal) => call(() => runner.readFile(path, signal)),
      writeFile: (path, body, signal) => call(() => runner.writeFile(path, body, signal)),
    };
  }

  async #read<T>(principal: Principal, ref: string, fn: (runner: GitRunner, sandbox: SandboxRow) => Promise<T>): Promise<T> {
    const { runner, sandbox } = await this.#open(principal, ref, "sandbox.files.read" satisfies Read);
    return fn(runner, sandbox);
  }

  async #write<T>(principal: Principal, ref: string, fn: (runner: GitRunner, sandbox: SandboxRow) => Promise<T>): Promise<T> {
    const { runner, sandbox } = await this.#open(principal, ref, "sandbox.files.write" satisfies Write);
    return this.serialize(sandbox.id, () => fn(runner, sandbox));
  }

  status(principal: Principal, ref: string, signal?: AbortSignal) {
    return this.#read(principal, ref, (runner) => ops.status(runner, signal));
  }

  diff(principal: Principal, ref: string, request: ops.DiffRequest, signal?: AbortSignal) {
    return this.#read(principal, ref, (runner) => ops.diff(runner, request, signal));
  }

  log(principal: Principal, ref: string, query: { ref?: string; limit: number; path?: string }, signal?: AbortSignal) {
    return this.#read(principal, ref, (runner) => ops.log(runner, query, signal));
  }

  branches(principal: Principal, ref: string, signal?: AbortSignal) {
    return this.#read(principal, ref, async (runner, sandbox) => {
      const [list, owners, remoteHead] = await Promise.all([
        ops.branches(runner, signal),
        conversationBranches(this.deps.pool, sandbox.id),
        runner.git(["symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], { signal }),
      ]);
      const owner = new Map(owners.map((o) => [o.branch, o.id]));
      const current = list.find((b) => b.current)?.name ?? null;
      const defaultBranch =
        remoteHead.code === 0
          ? remoteHead.stdout
              .toString()
              .trim()
              .replace(/^origin\//, "")
          : null;
      return {
        current,
        defaultBranch,
        branches: list.map((b) => ({ ...b, conversationId: owner.get(b.name) ?? null })),
      };
    });
  }

  createBranch(principal: Principal, ref: string, request: { name: string; from?: string; switch: boolean }, signal?: AbortSignal) {
    return this.#write(principal, ref, async (runner) => {
      await ops.createBranch(runner, request, signal);
      return ops.status(runner, signal);
    });
  }

  switchBranch(principal: Principal, ref: string, branch: string, signal?: AbortSignal) {
    return this.#write(principal, ref, async (runner) => {
      await ops.switchBranch(runner, branch, signal);
      return ops.status(runner, signal);
    });
  }

  /** A person's commit: by the project's identity (the bot's), with them as co-author. */
  commit(principal: Principal, ref: string, request: { message: string; paths?: string[] }, signal?: AbortSignal) {
    return this.#write(principal, ref, async (runner) => {
      const user = await findUser(this.deps.pool, principal.userId);
      const trailers = user ? [`Co-authored-by: ${user.name} <${user.name}@users.outpost.local>`] : [];
      return ops.commit(runner, { ...request, trailers }, signal);
    });
  }

  push(principal: Principal, ref: string, branch: string | undefined, signal?: AbortSignal) {
    return this.#write(principal, ref, (runner) => ops.push(runner, branch, signal));
  }

  /** Pushes for the control plane's own use (pull requests, after a turn). */
  async pushAs(sandbox: Pick<SandboxRow, "id" | "projectId">, branch: string, signal?: AbortSignal): Promise<void> {
    const runner = await this.runnerFor(sandbox);
    await this.serialize(sandbox.id, () => ops.push(runner, branch, signal));
  }

  fetch(principal: Principal, ref: string, signal?: AbortSignal) {
    return this.#write(principal, ref, (runner) => ops.fetch(runner, signal));
  }

  pull(principal: Principal, ref: string, signal?: AbortSignal) {
    return this.#write(principal, ref, (runner) => ops.pull(runner, signal));
  }

  async checkpoints(principal: Principal, ref: string) {
    const { sandbox } = await this.#open(principal, ref, "sandbox.files.read");
    return this.deps.checkpoints.list(sandbox.id);
  }

  checkpoint(principal: Principal, ref: string, signal?: AbortSignal) {
    return this.#write(principal, ref, (runner, sandbox) => this.deps.checkpoints.create(sandbox, runner, { reason: "manual" }, signal));
  }

  checkpointDiff(principal: Principal, ref: string, id: string, signal?: AbortSignal) {
    return this.#read(principal, ref, (runner, sandbox) => this.deps.checkpoints.diff(sandbox, runner, id, signal));
  }

  restore(principal: Principal, ref: string, id: string, signal?: AbortSignal) {
    return this.#write(principal, ref, (runner, sandbox) => this.deps.checkpoints.restore(sandbox, runner, id, signal));
  }
}
