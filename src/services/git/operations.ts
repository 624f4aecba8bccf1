// Git operations on a workspace, over any GitRunner (a sandbox in production, a folder in
// tests). Arguments a user gave were checked by the schemas (no option-looking refs, no
// paths out of the repository); here they still go after `--` wherever git allows it.
// Nothing here runs a shell with user input.

import { OutpostError } from "../../domain/errors.ts";
import { diffFiles, type GitDiffFile } from "../../domain/git/diff.ts";
import { type GitStatus, parseStatus } from "../../domain/git/status.ts";
import type { GitRunner } from "./git-runner.ts";
import { gitFailed } from "./git-runner.ts";

/** git's empty tree: what an unborn branch is compared with. */
export const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
const MAX_DIFF_BYTES = 8 * 1024 * 1024;
const NETWORK_TIMEOUT_MS = 10 * 60_000;
/** Plumbing flags for diffs: no external diff programs, no colour, renames found. */
const DIFF_FLAGS = ["--no-color", "--no-ext-diff", "--no-textconv", "-M", "--full-index"];

export async function hasRepository(runner: GitRunner, signal?: AbortSignal): Promise<boolean> {
  const out = await runner.git(["rev-parse", "--is-inside-work-tree"], { signal });
  return out.code === 0 && out.stdout.toString().trim() === "true";
}

async function requireRepository(runner: GitRunner, signal?: AbortSignal): Promise<void> {
  if (!(await hasRepository(runner, signal))) throw new OutpostError("NOT_A_GIT_REPOSITORY", "The sandbox's workspace is not a git repository.");
}

export async function status(runner: GitRunner, signal?: AbortSignal): Promise<GitStatus> {
  await requireRepository(runner, signal);
  const out = await runner.gitOk(["status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", "--ignore-submodules=dirty"], { signal });
  return parseStatus(out.toString("utf8"));
}

export async function headSha(runner: GitRunner, signal?: AbortSignal): Promise<string | null> {
  const out = await runner.git(["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { signal });
  return out.code === 0 ? out.stdout.toString().trim() : null;
}

export async function currentBranch(runner: GitRunner, signal?: AbortSignal): Promise<string | null> {
  const out = await runner.git(["symbolic-ref", "--quiet", "--short", "HEAD"], { signal });
  return out.code === 0 ? out.stdout.toString().trim() : null;
}

/**
 * The working tree as a tree object (tracked and untracked files, ignored ones left out),
 * made through a temporary copy of the index: the real index, HEAD and files stay as they
 * are. The script is fixed text; nothing of a user's goes into it.
 */
export async function worktreeTree(runner: GitRunner, signal?: AbortSignal): Promise<string> {
  const script = [
    "set -e",
    "tmp=$(mktemp)",
    "trap 'rm -f \"$tmp\"' EXIT",
    "index=$(git rev-parse --git-path index)",
    'if [ -f "$index" ]; then cp "$index" "$tmp"; else rm -f "$tmp"; fi',
    'GIT_INDEX_FILE="$tmp" git add -A',
    'GIT_INDEX_FILE="$tmp" git write-tree',
  ].join("\n");
  const out = await runner.run(["sh", "-c", script], { signal });
  if (out.code !== 0) throw gitFailed(["write-tree"], out);
  return out.stdout.toString().trim();
}

export interface DiffRequest {
  mode: "worktree" | "staged" | "refs";
  from?: string;
  to?: string;
  path?: string;
  context: number;
}

export interface DiffResult {
  unified: string;
  files: GitDiffFile[];
  truncated: boolean;
}

export async function diff(runner: GitRunner, request: DiffRequest, signal?: AbortSignal): Promise<DiffResult> {
  await requireRepository(runner, signal);
  const flags = [...DIFF_FLAGS, `-U${request.context}`];
  const paths = request.path ? ["--", request.path] : [];
  let args: string[];
  if (request.mode === "worktree") {
    const base = (await headSha(runner, signal)) ?? EMPTY_TREE;
    args = ["diff-tree", "-r", "-p", ...flags, base, await worktreeTree(runner, signal), ...paths];
  } else if (request.mode === "staged") {
    args = ["diff", "--cached", ...flags, ...((await headSha(runner, signal)) ? [] : [EMPTY_TREE]), ...paths];
  } else {
    if (!request.from)
      throw new OutpostError("VALIDATION_FAILED", "A diff between refs needs `from`.", {
        details: { issues: [{ path: "from", message: "required with mode=refs" }] },
      });
    await resolveCommit(runner, request.from, signal);
    await resolveCommit(runner, request.to ?? "HEAD", signal);
    args = ["diff", ...flags, request.from, request.to ?? "HEAD", ...paths];
  }
  return diffOf(runner, args, signal);
}

/** Runs a diff command and reads its answer (cut at 8 MiB). */
export async function diffOf(runner: GitRunner, args: string[], signal?: AbortSignal): Promise<DiffResult> {
  const out = await runner.git(args, { signal, truncateAt: MAX_DIFF_BYTES });
  if (out.code !== 0) throw gitFailed(args, out);
  let unified = out.stdout.toString("utf8");
  // A cut diff ends mid-file: keep whole files only.
  if (out.truncated) unified = unified.slice(0, Math.max(0, unified.lastIndexOf("\ndiff --git ")) + 1);
  return { unified, files: diffFiles(unified), truncated: out.truncated === true };
}

/** The commit a revision names; GIT_REF_NOT_FOUND when there is none. */
export async function resolveCommit(runner: GitRunner, rev: string, signal?: AbortSignal): Promise<string> {
  const out = await runner.git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], { signal });
  if (out.code !== 0) throw new OutpostError("GIT_REF_NOT_FOUND", `No commit is named '${rev}' in the sandbox's repository.`, { details: { ref: rev } });
  return out.stdout.toString().trim();
}

export interface CommitView {
  sha: string;
  parents: string[];
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
  subject: string;
  body: string;
}

const FIELD = "\x1f";
const RECORD = "\x1e";
const LOG_FORMAT = ["%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%s", "%b"].join("%x1f") + "%x1e";

export async function log(runner: GitRunner, query: { ref?: string; limit: number; path?: string }, signal?: AbortSignal): Promise<CommitView[]> {
  await requireRepository(runner, signal);
  const ref = query.ref ?? "HEAD";
  if (!query.ref && !(await headSha(runner, signal))) return [];
  await resolveCommit(runner, ref, signal);
  const out = await runner.gitOk(["log", "--no-color", `--format=${LOG_FORMAT}`, `-n${query.limit}`, ref, "--", ...(query.path ? [query.path] : [])], {
    signal,
  });
  return out
    .toString("utf8")
    .split(RECORD)
    .map((record) => record.replace(/^\n/, ""))
    .filter(Boolean)
    .map((record) => {
      const [sha, parents, an, ae, ad, cn, ce, cd, subject, body] = record.split(FIELD);
      return {
        sha: sha ?? "",
        parents: (parents ?? "").split(" ").filter(Boolean),
        author: { name: an ?? "", email: ae ?? "", date: ad ?? "" },
        committer: { name: cn ?? "", email: ce ?? "", date: cd ?? "" },
        subject: subject ?? "",
        body: (body ?? "").trimEnd(),
      };
    });
}

export interface BranchView {
  name: string;
  sha: string;
  current: boolean;
  upstream: string | null;
  worktree: string | null;
}

export async function branches(runner: GitRunner, signal?: AbortSignal): Promise<BranchView[]> {
  await requireRepository(runner, signal);
  const format = ["%(refname:short)", "%(objectname)", "%(HEAD)", "%(upstream:short)", "%(worktreepath)"].join("%1f");
  const out = await runner.gitOk(["for-each-ref", `--format=${format}`, "refs/heads"], { signal });
  return out
    .toString("utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [name, sha, head, upstream, worktree] = line.split(FIELD);
      return {
        name: name ?? "",
        sha: sha ?? "",
        current: head === "*",
        upstream: upstream || null,
        worktree: worktree && worktree !== "/workspace" ? worktree : null,
      };
    });
}

export async function branchExists(runner: GitRunner, name: string, signal?: AbortSignal): Promise<boolean> {
  return (await runner.git(["show-ref", "--verify", "--quiet", `refs/heads/${name}`], { signal })).code === 0;
}

export async function createBranch(runner: GitRunner, request: { name: string; from?: string; switch: boolean }, signal?: AbortSignal): Promise<void> {
  await requireRepository(runner, signal);
  await checkRefFormat(runner, request.name, signal);
  if (await branchExists(runner, request.name, signal)) throw new OutpostError("GIT_BRANCH_EXISTS", `Branch '${request.name}' exists already.`);
  const start = request.from ? [await resolveCommit(runner, request.from, signal)] : [];
  const born = start.length > 0 || (await headSha(runner, signal)) !== null;
  if (!request.switch && !born) {
    throw new OutpostError(
      "GIT_FAILED",
      "The repository has no commit yet, so there is nothing to start a branch from: commit first, or create it with switch: true.",
    );
  }
  if (!request.switch) await runner.gitOk(["branch", request.name, ...start], { signal });
  else if (born) await runner.gitOk(["switch", "-c", request.name, ...start], { signal });
  // Before the first commit there is nothing to branch from: HEAD just gets the new name
  // (the index and files stay as they are).
  else await runner.gitOk(["symbolic-ref", "HEAD", `refs/heads/${request.name}`], { signal });
}

export async function switchBranch(runner: GitRunner, branch: string, signal?: AbortSignal): Promise<void> {
  await requireRepository(runner, signal);
  if (!(await branchExists(runner, branch, signal))) {
    // A branch only the remote has yet: git switch makes the local one that tracks it.
    const remote = await runner.git(["show-ref", "--verify", "--quiet", `refs/remotes/origin/${branch}`], { signal });
    if (remote.code !== 0)
      throw new OutpostError("GIT_REF_NOT_FOUND", `There is no branch '${branch}' in the sandbox's repository.`, { details: { ref: branch } });
  }
  await runner.gitOk(["switch", branch], { signal });
}

async function checkRefFormat(runner: GitRunner, name: string, signal?: AbortSignal): Promise<void> {
  const out = await runner.git(["check-ref-format", "--branch", name], { signal });
  if (out.code !== 0) {
    throw new OutpostError("VALIDATION_FAILED", `'${name}' is not a branch name git accepts.`, {
      details: { issues: [{ path: "name", message: "git check-ref-format refuses it" }] },
    });
  }
}

export async function commit(
  runner: GitRunner,
  request: { message: string; paths?: string[]; trailers?: string[] },
  signal?: AbortSignal,
): Promise<{ sha: string; branch: string | null; subject: string }> {
  await requireRepository(runner, signal);
  const paths = request.paths?.length ? ["--", ...request.paths] : [];
  await runner.gitOk(["add", "-A", ...paths], { signal });
  const staged = await runner.git(["diff", "--cached", "--quiet", ...((await headSha(runner, signal)) ? [] : [EMPTY_TREE]), ...paths], { signal });
  if (staged.code === 0) throw new OutpostError("NOTHING_TO_COMMIT", "There is nothing to commit: the working tree matches HEAD.");
  const trailers = (request.trailers ?? []).flatMap((t) => ["--trailer", t]);
  // The message goes in on stdin: no length limit of argv, and never parsed as options.
  await runner.gitOk(["commit", "--no-verify", "--cleanup=strip", "-F", "-", ...trailers, ...paths], { signal, stdin: request.message });
  const [sha, branch] = await Promise.all([headSha(runner, signal), currentBranch(runner, signal)]);
  return { sha: sha ?? "", branch, subject: request.message.trim().split("\n")[0] ?? "" };
}

async function requireOrigin(runner: GitRunner, signal?: AbortSignal): Promise<void> {
  const out = await runner.git(["remote", "get-url", "origin"], { signal });
  if (out.code !== 0)
    throw new OutpostError(
      "GIT_FAILED",
      "The repository has no remote 'origin': set the project's repoUrl (outpost project update PROJECT --repo URL) and restart the sandbox.",
    );
}

/** Pushes a branch to origin, setting its upstream. Checkpoint refs are never pushed: only this branch is named. */
export async function push(runner: GitRunner, branch: string | undefined, signal?: AbortSignal): Promise<{ branch: string; output: string }> {
  await requireRepository(runner, signal);
  await requireOrigin(runner, signal);
  const name = branch ?? (await currentBranch(runner, signal));
  if (!name) throw new OutpostError("GIT_FAILED", "HEAD is detached: name the branch to push.");
  if (!(await branchExists(runner, name, signal)))
    throw new OutpostError("GIT_REF_NOT_FOUND", `There is no branch '${name}' to push.`, { details: { ref: name } });
  const out = await runner.git(["push", "--porcelain", "-u", "origin", `refs/heads/${name}:refs/heads/${name}`], { signal, timeoutMs: NETWORK_TIMEOUT_MS });
  if (out.code !== 0) throw gitFailed(["push"], out);
  return { branch: name, output: out.stderr.trim() || out.stdout.toString().trim() };
}

export async function fetch(runner: GitRunner, signal?: AbortSignal): Promise<{ branch: string | null; output: string }> {
  await requireRepository(runner, signal);
  await requireOrigin(runner, signal);
  const out = await runner.git(["fetch", "--prune", "origin"], { signal, timeoutMs: NETWORK_TIMEOUT_MS });
  if (out.code !== 0) throw gitFailed(["fetch"], out);
  return { branch: await currentBranch(runner, signal), output: out.stderr.trim() };
}

/** Fast-forward only: a pull never makes a merge commit the user did not ask for. */
export async function pull(runner: GitRunner, signal?: AbortSignal): Promise<{ branch: string | null; output: string }> {
  await requireRepository(runner, signal);
  await requireOrigin(runner, signal);
  const out = await runner.git(["pull", "--ff-only", "--no-rebase"], { signal, timeoutMs: NETWORK_TIMEOUT_MS });
  if (out.code !== 0) throw gitFailed(["pull"], out);
  return { branch: await currentBranch(runner, signal), output: `${out.stdout.toString().trim()}\n${out.stderr.trim()}`.trim() };
}

/** Folders of the repository's worktrees (the main one included). */
export async function worktreePaths(runner: GitRunner, signal?: AbortSignal): Promise<string[]> {
  const out = await runner.gitOk(["worktree", "list", "--porcelain", "-z"], { signal });
  return out
    .toString("utf8")
    .split("\0")
    .filter((field) => field.startsWith("worktree "))
    .map((field) => field.slice("worktree ".length));
}

/** A worktree at `path` on `branch` (made from `start` when `create`). */
export async function addWorktree(
  runner: GitRunner,
  request: { path: string; branch: string; create: boolean; start: string | null },
  signal?: AbortSignal,
): Promise<void> {
  await runner.gitOk(["worktree", "prune"], { signal });
  const args = request.create
    ? ["worktree", "add", "--quiet", "-b", request.branch, request.path, ...(request.start ? [request.start] : [])]
    : ["worktree", "add", "--quiet", request.path, request.branch];
  await runner.gitOk(args, { signal });
}
