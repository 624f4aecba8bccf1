// Git on a sandbox (docs/api.md, "Git"): status, diffs, log, branches, commit, push, fetch,
// pull, and checkpoints. Refs and paths a user names are checked here, before anything runs:
// git must never read one as an option (`-…`), and paths stay inside the repository.
import { z } from "zod";
import { branchNameProblem } from "../domain/names.ts";
import { text } from "./common.ts";

/** A repository-relative path: no `..` segment, not absolute, not an option. */
export function repoPathProblem(path: string): string | null {
  if (path.length === 0 || path.length > 4096) return "must be 1 to 4096 characters";
  if (path.startsWith("/") || path.startsWith("-")) return "must be relative to the repository and not start with '-'";
  if (/[\x00]/.test(path)) return "must not contain NUL";
  if (path.split("/").some((part) => part === "..")) return "must stay inside the repository (no '..')";
  if (path.split("/")[0] === ".git") return "must not point into .git";
  return null;
}

/** A commit-ish a user names: a branch, tag, sha or HEAD~n — never an option, never a range. */
export function revisionProblem(rev: string): string | null {
  if (rev.length === 0 || rev.length > 255) return "must be 1 to 255 characters";
  if (rev.startsWith("-")) return "must not start with '-'";
  if (!/^[A-Za-z0-9._/@~^{}-]+$/.test(rev)) return "must be a branch, tag, commit sha or HEAD~N";
  if (rev.includes("..") || rev.includes(":")) return "must name one revision (no '..' or ':')";
  return null;
}

const checkedString = (problem: (value: string) => string | null, max: number) =>
  z
    .string()
    .max(max)
    .superRefine((value, ctx) => {
      const why = problem(value);
      if (why) ctx.addIssue({ code: "custom", message: why });
    });

export const branchName = checkedString(branchNameProblem, 255).describe("A git branch name (checked as git check-ref-format would).");
export const revision = checkedString(revisionProblem, 255).describe("A branch, tag, commit sha or HEAD~N.");
export const repoPath = checkedString(repoPathProblem, 4096).describe("A path relative to the repository root.");

export const diffQuery = z
  .object({
    mode: z
      .enum(["worktree", "staged", "refs"])
      .default("worktree")
      .describe("worktree: uncommitted changes (untracked files included) against HEAD; staged: the index against HEAD; refs: `from`..`to`."),
    from: revision.optional(),
    to: revision.optional(),
    path: repoPath.optional().describe("Only this file or folder."),
    context: z.coerce.number().int().min(0).max(100).default(3).describe("Lines of context around each change."),
  })
  .strict();

export const logQuery = z
  .object({
    ref: revision.optional().describe("Default: HEAD."),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    path: repoPath.optional(),
  })
  .strict();

export const createBranchBody = z
  .object({
    name: branchName,
    from: revision.optional().describe("Default: HEAD."),
    switch: z.boolean().default(true).describe("Check it out as well."),
  })
  .strict();

export const switchBranchBody = z.object({ branch: branchName }).strict();

export const commitBody = z
  .object({
    message: text(64 * 1024).pipe(z.string().trim().min(1, "must not be empty")),
    paths: z.array(repoPath).max(1000).optional().describe("Commit only these paths; default: every change, untracked files included."),
  })
  .strict();

export const pushBody = z
  .object({
    branch: branchName.optional().describe("Default: the current branch."),
  })
  .strict();

const person = z.object({ name: z.string(), email: z.string(), date: z.string() });

export const gitFileStatus = z
  .object({
    path: z.string(),
    oldPath: z.string().nullable().describe("For a rename or copy: where it came from."),
    status: z.enum(["modified", "added", "deleted", "renamed", "copied", "typechange", "untracked", "conflicted"]),
    staged: z.boolean().describe("The change is in the index."),
    unstaged: z.boolean().describe("The change is in the working tree only."),
  })
  .meta({ id: "GitFileStatus" });

export const gitStatus = z
  .object({
    branch: z.string().nullable().describe("Null when HEAD is detached."),
    head: z.string().nullable().describe("The commit HEAD points to; null before the first commit."),
    upstream: z.string().nullable(),
    ahead: z.number().int(),
    behind: z.number().int(),
    clean: z.boolean(),
    files: z.array(gitFileStatus),
    truncated: z.boolean().describe("More than 5 000 changed files: the list stops there."),
  })
  .meta({ id: "GitStatus" });

export const diffLine = z.object({
  type: z.enum(["context", "add", "del", "note"]).describe("note: '\\ No newline at end of file'."),
  text: z.string(),
  oldLine: z.number().int().nullable(),
  newLine: z.number().int().nullable(),
});

export const diffFile = z
  .object({
    path: z.string(),
    oldPath: z.string().nullable(),
    status: z.enum(["modified", "added", "deleted", "renamed"]),
    binary: z.boolean(),
    additions: z.number().int(),
    deletions: z.number().int(),
    hunks: z.array(
      z.object({
        header: z.string(),
        oldStart: z.number().int(),
        oldLines: z.number().int(),
        newStart: z.number().int(),
        newLines: z.number().int(),
        lines: z.array(diffLine),
      }),
    ),
  })
  .meta({ id: "GitDiffFile" });

export const gitDiff = z
  .object({
    unified: z.string().describe("git's unified diff text."),
    files: z.array(diffFile),
    truncated: z.boolean().describe("The diff was larger than 8 MiB and was cut."),
  })
  .meta({ id: "GitDiff" });

export const gitCommit = z
  .object({
    sha: z.string(),
    parents: z.array(z.string()),
    author: person,
    committer: person,
    subject: z.string(),
    body: z.string(),
  })
  .meta({ id: "GitCommit" });

export const gitLog = z.object({ commits: z.array(gitCommit) });

export const gitBranch = z
  .object({
    name: z.string(),
    sha: z.string(),
    current: z.boolean(),
    upstream: z.string().nullable(),
    conversationId: z.string().nullable().describe("The conversation that works on this branch."),
    worktree: z.string().nullable().describe("The worktree it is checked out in, other than /workspace."),
  })
  .meta({ id: "GitBranch" });

export const gitBranches = z.object({ current: z.string().nullable(), defaultBranch: z.string().nullable(), branches: z.array(gitBranch) });

export const commitResult = z.object({ sha: z.string(), branch: z.string().nullable(), subject: z.string() });
export const gitOutputResult = z.object({ branch: z.string().nullable(), output: z.string().describe("What git said (its stderr), for people.") });

export const checkpoint = z
  .object({
    id: z.string(),
    sandboxId: z.string(),
    conversationId: z.string().nullable(),
    runId: z.string().nullable(),
    commit: z.string(),
    headSha: z.string().nullable(),
    branch: z.string().nullable(),
    reason: z.enum(["turn", "before-restore", "manual"]),
    createdAt: z.string(),
  })
  .meta({ id: "GitCheckpoint" });

export const checkpointParams = z.object({ chk: z.string().regex(/^chk_[a-z0-9]{6,32}$/, "must be a chk_… id") }).strict();
export const restoreResult = z.object({ restored: checkpoint, undo: checkpoint.describe("Restore this one to undo the restore.") });

export type GitStatus = z.infer<typeof gitStatus>;
export type GitDiff = z.infer<typeof gitDiff>;
export type GitDiffFile = z.infer<typeof diffFile>;
export type GitCommitView = z.infer<typeof gitCommit>;
export type GitBranches = z.infer<typeof gitBranches>;
export type CheckpointView = z.infer<typeof checkpoint>;
