// Checkpoints of a sandbox's repository (issue 18; the commit's shape is in
// domain/git/checkpoints.ts). Taken inside the sandbox with plumbing that touches neither the
// real index, HEAD, refs nor files; kept in two places:
//   - in the sandbox, under refs/outpost/checkpoints/<id>, for fast diffs and restores;
//   - on the host, in a bare repository the control plane owns
//     (<data dir>/checkpoints/<sandbox id>.git, see checkpoint-store.ts), because the agent
//     can delete refs and run `git gc` inside. Objects cross as a bundle (only what is new
//     since the last checkpoint), and the host checks every object before it keeps it: what
//     comes out of a sandbox is untrusted. The host's git never has a working tree and runs
//     no hooks or config of the sandbox's.
// A row (git_checkpoints) is written once the host has the commit, so every row restores.

import type pg from "pg";
import { OutpostError } from "../../domain/errors.ts";
import {
  branchFromSymbolicRef,
  CHECKPOINT_IDENTITY,
  CHECKPOINT_REF_PREFIX,
  type CheckpointHead,
  type CheckpointReason,
  checkpointCommitArgs,
  checkpointMessage,
  checkpointRef,
  indexCommitArgs,
  isPlausibleBranch,
  isSha,
  type ParsedCheckpoint,
  restoreHeadCommands,
  SANDBOX_GIT_OPTIONS,
} from "../../domain/git/checkpoints.ts";
import { diffFiles } from "../../domain/git/diff.ts";
import { newId, randomLowerAlnum } from "../../domain/ids.ts";
import * as store from "../../store/checkpoints.ts";
import type { SandboxRow } from "../../store/sandboxes.ts";
import { KeyedQueue } from "../keyed-queue.ts";
import { CheckpointStore, type CheckpointStoreOptions, type StoredCheckpoint } from "./checkpoint-store.ts";
import type { GitRunner, GitRunOptions } from "./git-runner.ts";

/**
 * Where bundles pass through inside the sandbox: a folder of the repository's git dir (on
 * the same disk as the objects; /tmp may be small), as an absolute path git itself gives.
 */
async function bundleFolder(runner: GitRunner, signal?: AbortSignal): Promise<string> {
  const folder = (await runner.gitOk(["rev-parse", "--path-format=absolute", "--git-path", "outpost-bundles"], { signal })).toString("utf8").trim();
  if (!folder.startsWith("/") || folder.includes("\n")) throw new OutpostError("CHECKPOINT_REJECTED", "The sandbox's git named no usable folder for bundles.");
  // Checkpoint work is one at a time per sandbox: whatever is in the folder now was left by
  // one cut short (a control plane killed mid-way), and goes.
  await runner.run(["sh", "-c", 'rm -rf -- "$1" && mkdir -p -- "$1"', "sh", folder], { signal });
  return folder;
}
const MAX_DIFF_BYTES = 8 * 1024 * 1024;
/** Checkpoint refs kept inside a sandbox (older ones live on the host only). */
const SANDBOX_REFS_KEPT = 20;
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/** The API's GitCheckpoint (src/schemas/git.ts). */
export interface CheckpointView {
  id: string;
  sandboxId: string;
  conversationId: string | null;
  runId: string | null;
  commit: string;
  headSha: string | null;
  branch: string | null;
  reason: CheckpointReason;
  createdAt: string;
}

export interface CheckpointDiff {
  unified: string;
  files: ReturnType<typeof diffFiles>;
  truncated: boolean;
}

export interface CheckpointServiceOptions extends CheckpointStoreOptions {
  pool: pg.Pool;
}

type SandboxRef = Pick<SandboxRow, "id" | "projectId">;

/** The working tree, index and HEAD as the sandbox has them now. */
interface Snapshot extends CheckpointHead {
  worktreeTree: string;
  indexTree: string;
  /** The temporary index (a path inside the sandbox) that matches the working tree, when kept. */
  tempIndex: string | null;
}

export class CheckpointService {
  readonly #store: CheckpointStore;
  /** One checkpoint operation at a time per sandbox: each bundle builds on the previous one. */
  readonly #queue = new KeyedQueue();

  constructor(private readonly options: CheckpointServiceOptions) {
    this.#store = new CheckpointStore(options);
  }

  /** The host repository that keeps a sandbox's checkpoint objects. */
  hostRepository(sandboxId: string): string {
    return this.#store.repository(sandboxId);
  }

  async create(
    sandbox: SandboxRef,
    runner: GitRunner,
    meta: { reason: CheckpointReason; conversationId?: string | null; runId?: string | null },
    signal?: AbortSignal,
  ): Promise<CheckpointView> {
    return this.#serial(sandbox.id, async () => {
      const snapshot = await this.#snapshot(runner, false, signal);
      return view(await this.#keep(sandbox, runner, snapshot, meta, signal));
    });
  }

  async list(sandboxId: string, options: { limit?: number; beforeSeq?: number } = {}): Promise<CheckpointView[]> {
    return (await store.listCheckpoints(this.options.pool, sandboxId, options)).map(view);
  }

  async get(sandboxId: string, id: string): Promise<CheckpointView> {
    return view(await this.#row(sandboxId, id));
  }

  /** The working tree now (untracked files included) against a checkpoint's. */
  async diff(sandbox: SandboxRef, runner: GitRunner, id: string, signal?: AbortSignal): Promise<CheckpointDiff> {
    const row = await this.#row(sandbox.id, id);
    return this.#serial(sandbox.id, async () => {
      const target = await this.#readHost(sandbox.id, row);
      await this.#ensureInSandbox(sandbox.id, runner, row, target, null, signal);
      const now = await this.#snapshot(runner, false, signal);
      const out = await runner.gitOk([...SANDBOX_GIT_OPTIONS, "diff-tree", "-p", "-r", "--no-color", "--no-ext-diff", target.tree, now.worktreeTree], {
        signal,
        maxOutputBytes: MAX_DIFF_BYTES,
      });
      const unified = out.toString("utf8");
      return { unified, files: diffFiles(unified), truncated: false };
    });
  }

  /**
   * Puts the working tree, index and HEAD back as a checkpoint recorded them, after taking a
   * checkpoint of how they are now ("before-restore"): restoring that one undoes this.
   */
  async restore(sandbox: SandboxRef, runner: GitRunner, id: string, signal?: AbortSignal): Promise<{ restored: CheckpointView; undo: CheckpointView }> {
    const row = await this.#row(sandbox.id, id);
    return this.#serial(sandbox.id, async () => {
      const target = await this.#readHost(sandbox.id, row);
      const snapshot = await this.#snapshot(runner, true, signal);
      const tempIndex = snapshot.tempIndex as string;
      try {
        const undo = await this.#keep(sandbox, runner, snapshot, { reason: "before-restore" }, signal);
        await this.#ensureInSandbox(sandbox.id, runner, row, target, undo.commitSha, signal);
        const git = (args: string[], options: GitRunOptions = {}) => runner.gitOk([...SANDBOX_GIT_OPTIONS, ...args], { signal, ...options });
        // A one-way merge from the index that matches the working tree now (every file not
        // ignored is in it): files absent from the checkpoint go (and folders left empty),
        // changed ones are written, unchanged ones are not touched, ignored files stay.
        await git(["read-tree", "--reset", "-u", target.tree], { env: { GIT_INDEX_FILE: tempIndex } });
        await git(["read-tree", target.indexTree]);
        // Stat data for the new index, so the next `git status` does not hash every file.
        await runner.git([...SANDBOX_GIT_OPTIONS, "update-index", "-q", "--refresh"], { signal });
        const current = await runner.git(["symbolic-ref", "-q", "HEAD"], { signal });
        const branch = current.code === 0 ? branchFromSymbolicRef(current.stdout.toString("utf8")) : null;
        for (const command of restoreHeadCommands(target, branch)) await git(command);
        return { restored: view(row), undo: view(undo) };
      } finally {
        await removeInSandbox(runner, [tempIndex, `${tempIndex}.lock`]);
      }
    });
  }

  /** Drops a deleted sandbox's host repository (its rows go with the sandbox's). */
  async forget(sandboxId: string): Promise<void> {
    await this.#store.forget(sandboxId);
  }

  // ---- taking ---------------------------------------------------------------------------

  /**
   * Records the working tree through a copy of the index (its stat data spares hashing files
   * that did not change) and `git add -A`; the real index and everything else stay as they are.
   */
  async #snapshot(runner: GitRunner, keepIndex: boolean, signal?: AbortSignal): Promise<Snapshot> {
    const git = (args: string[], options: GitRunOptions = {}) => runner.git([...SANDBOX_GIT_OPTIONS, ...args], { signal, ...options });
    const inside = await git(["rev-parse", "--is-inside-work-tree"]);
    if (inside.code !== 0 || inside.stdout.toString("utf8").trim() !== "true") {
      throw new OutpostError("NOT_A_GIT_REPOSITORY", "The workspace is not a git repository, so it cannot be checkpointed.");
    }
    const indexPath = (await runner.gitOk(["rev-parse", "--path-format=absolute", "--git-path", "index"], { signal })).toString("utf8").trim();
    const tempIndex = `${indexPath}.outpost-${randomLowerAlnum(10)}`;
    // Temporary indexes of a checkpoint cut short (one at a time per sandbox, so none is in use).
    await runner.run(["sh", "-c", 'rm -f -- "$1".outpost-*', "sh", indexPath], { signal });
    const headOut = await git(["rev-parse", "-q", "--verify", "HEAD^{commit}"]);
    const head = headOut.code === 0 ? headOut.stdout.toString("utf8").trim() : null;
    const symbolic = await git(["symbolic-ref", "-q", "HEAD"]);
    const branch = symbolic.code === 0 ? branchFromSymbolicRef(symbolic.stdout.toString("utf8")) : null;
    let worktreeTree: string;
    let indexTree: string;
    try {
      // Every write goes to the copy: even `write-tree` on the real index would rewrite it
      // (its cache-tree) and take its lock under a git command someone runs in a terminal.
      // No index yet (nothing ever staged) is fine: `add -A` builds one from scratch.
      await runner.run(["cp", "-p", "--", indexPath, tempIndex], { signal });
      const env = { GIT_INDEX_FILE: tempIndex };
      // An index in the middle of a merge conflict has no tree: HEAD's stands in for it.
      const indexOut = await git(["write-tree"], { env });
      indexTree =
        indexOut.code === 0
          ? indexOut.stdout.toString("utf8").trim()
          : head
            ? await sha(runner.gitOk(["rev-parse", `${head}^{tree}`], { signal }))
            : EMPTY_TREE;
      await runner.gitOk([...SANDBOX_GIT_OPTIONS, "add", "-A"], { signal, env });
      worktreeTree = await sha(runner.gitOk([...SANDBOX_GIT_OPTIONS, "write-tree"], { signal, env }));
    } catch (error) {
      await removeInSandbox(runner, [tempIndex, `${tempIndex}.lock`]);
      throw error;
    }
    if (!keepIndex) await removeInSandbox(runner, [tempIndex, `${tempIndex}.lock`]);
    if (!isSha(worktreeTree) || !isSha(indexTree) || (head !== null && !isSha(head)) || (branch !== null && !isPlausibleBranch(branch))) {
      throw new OutpostError("CHECKPOINT_REJECTED", "The sandbox's git gave an answer that is not a tree, a commit or a branch name.");
    }
    return { worktreeTree, indexTree, head, branch, tempIndex: keepIndex ? tempIndex : null };
  }

  /** Makes the checkpoint commit and ref inside, copies it to the host, and records the row. */
  async #keep(
    sandbox: SandboxRef,
    runner: GitRunner,
    snapshot: Snapshot,
    meta: { reason: CheckpointReason; conversationId?: string | null; runId?: string | null },
    signal?: AbortSignal,
  ): Promise<store.CheckpointRow> {
    const id = newId("checkpoint");
    const options = { signal, env: { ...CHECKPOINT_IDENTITY } };
    const indexCommit = await sha(runner.gitOk([...SANDBOX_GIT_OPTIONS, ...indexCommitArgs(snapshot.indexTree, snapshot.head)], options));
    const message = checkpointMessage({ id, reason: meta.reason, branch: snapshot.branch, head: snapshot.head });
    const commit = await sha(
      runner.gitOk([...SANDBOX_GIT_OPTIONS, ...checkpointCommitArgs(snapshot.worktreeTree, snapshot.head, indexCommit, message)], options),
    );
    const ref = checkpointRef(id);
    await runner.gitOk([...SANDBOX_GIT_OPTIONS, "update-ref", "-m", "outpost checkpoint", ref, commit], { signal });
    await this.#copyToHost(sandbox.id, runner, ref, commit, signal);
    const recent = await store.listCheckpoints(this.options.pool, sandbox.id, { limit: SANDBOX_REFS_KEPT - 1 });
    await trimSandboxRefs(runner, new Set([ref, ...recent.map((row) => checkpointRef(row.id))]), signal);
    return store.insertCheckpoint(this.options.pool, {
      id,
      sandboxId: sandbox.id,
      projectId: sandbox.projectId,
      conversationId: meta.conversationId ?? null,
      runId: meta.runId ?? null,
      commitSha: commit,
      headSha: snapshot.head,
      branch: snapshot.branch,
      reason: meta.reason,
    });
  }

  /** Bundles what is new since the previous checkpoint in the sandbox and unpacks it on the host. */
  async #copyToHost(sandboxId: string, runner: GitRunner, ref: string, commit: string, signal?: AbortSignal): Promise<void> {
    const previous = await store.lastCheckpoint(this.options.pool, sandboxId);
    const inside = `${await bundleFolder(runner, signal)}/${ref.split("/").pop()}.bundle`;
    const bundle = (exclude: string | null) =>
      runner.git([...SANDBOX_GIT_OPTIONS, "bundle", "create", "-q", inside, ref, ...(exclude ? [`^${exclude}`] : [])], { signal });
    try {
      // The previous checkpoint's objects may be gone from the sandbox (deleted ref, gc):
      // then the whole history goes, once.
      let made = previous ? await bundle(previous.commitSha) : null;
      if (made?.code !== 0) made = await bundle(null);
      if (made.code !== 0) throw new OutpostError("GIT_FAILED", `git bundle failed in the sandbox: ${made.stderr.trim().split("\n").slice(-3).join("\n")}`);
      await this.#store.import(sandboxId, await runner.readFile(inside, signal), { ref, commit }, signal);
    } finally {
      await removeInSandbox(runner, [inside]);
    }
  }

  // ---- reading back ---------------------------------------------------------------------

  async #row(sandboxId: string, id: string): Promise<store.CheckpointRow> {
    const row = await store.checkpointById(this.options.pool, sandboxId, id);
    if (!row) throw new OutpostError("CHECKPOINT_NOT_FOUND", `Sandbox ${sandboxId} has no checkpoint '${id}'.`, { details: { checkpoint: id } });
    return row;
  }

  /** The checkpoint as the host keeps it: trusted, unlike the sandbox's copy. */
  async #readHost(sandboxId: string, row: store.CheckpointRow): Promise<StoredCheckpoint> {
    const stored = await this.#store.read(sandboxId, row);
    // The row is the record; the message is the sandbox's words (they agree unless tampered with).
    return { ...stored, head: row.headSha, branch: row.branch };
  }

  /**
   * Makes sure the sandbox has every object of a checkpoint; when the agent deleted the ref
   * and collected the garbage, the host sends them back in (only what `have`, a commit both
   * sides hold, does not already bring).
   */
  async #ensureInSandbox(
    sandboxId: string,
    runner: GitRunner,
    row: store.CheckpointRow,
    target: ParsedCheckpoint,
    have: string | null,
    signal?: AbortSignal,
  ): Promise<void> {
    const ref = checkpointRef(row.id);
    // Both trees complete (a missing blob fails too); the history behind them is not needed.
    const check = await runner.git([...SANDBOX_GIT_OPTIONS, "rev-list", "--objects", "--quiet", "--no-walk", row.commitSha, target.indexCommit], { signal });
    if (check.code === 0) {
      // Objects there; put the ref back if it went, so gc keeps them from now on.
      await runner.gitOk([...SANDBOX_GIT_OPTIONS, "update-ref", ref, row.commitSha], { signal });
      return;
    }
    const inside = `${await bundleFolder(runner, signal)}/restore-${row.id}.bundle`;
    try {
      await this.#store.export(
        sandboxId,
        ref,
        have,
        async (bundle) => {
          await runner.writeFile(inside, bundle, signal);
          await runner.gitOk([...SANDBOX_GIT_OPTIONS, "fetch", "-q", "--no-write-fetch-head", inside, `+${ref}:${ref}`], { signal });
        },
        signal,
      );
    } finally {
      await removeInSandbox(runner, [inside]);
    }
  }

  #serial<T>(sandboxId: string, work: () => Promise<T>): Promise<T> {
    return this.#queue.run(sandboxId, work);
  }
}

function view(row: store.CheckpointRow): CheckpointView {
  return {
    id: row.id,
    sandboxId: row.sandboxId,
    conversationId: row.conversationId,
    runId: row.runId,
    commit: row.commitSha,
    headSha: row.headSha,
    branch: row.branch,
    reason: row.reason,
    createdAt: row.createdAt.toISOString(),
  };
}

async function sha(output: Promise<Buffer>): Promise<string> {
  const value = (await output).toString("utf8").trim();
  if (!isSha(value)) throw new OutpostError("CHECKPOINT_REJECTED", "The sandbox's git answered something that is not an object name.");
  return value;
}

/**
 * Keeps the newest checkpoints' refs in the sandbox, drops older ones: the host has them
 * all, and every ref kept inside pins its objects (untracked build output, say) in the
 * sandbox's repository for good.
 */
async function trimSandboxRefs(runner: GitRunner, keep: Set<string>, signal?: AbortSignal): Promise<void> {
  const listed = await runner.git(["for-each-ref", "--format=%(refname)", CHECKPOINT_REF_PREFIX], { signal });
  if (listed.code !== 0) return;
  const old = listed.stdout
    .toString("utf8")
    .split("\n")
    .filter((name) => name.startsWith(CHECKPOINT_REF_PREFIX) && !keep.has(name));
  if (old.length === 0) return;
  await runner.git([...SANDBOX_GIT_OPTIONS, "update-ref", "--stdin"], { signal, stdin: old.map((name) => `delete ${name}\n`).join("") });
}

async function removeInSandbox(runner: GitRunner, paths: string[]): Promise<void> {
  await runner.run(["rm", "-f", "--", ...paths]).catch(() => {});
}
