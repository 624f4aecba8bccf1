// How `outpost git` shows the git API's answers to people (pure: text in, text out). The
// shapes follow git's own short forms (`git status -sb`, `git diff --stat`, `git commit`'s
// first line) so the output reads like git's.
import type { z } from "zod";
import type { CheckpointView, GitBranches, GitCommitView, GitDiff, GitStatus, gitFileStatus } from "../../schemas/git.ts";
import { table } from "../output.ts";

type FileStatus = z.infer<typeof gitFileStatus>;

export const short = (sha: string | null | undefined): string => (sha ? sha.slice(0, 7) : "-");

/** An ISO date as `YYYY-MM-DD HH:MM` in the time zone it was recorded in. */
const when = (iso: string): string => iso.slice(0, 16).replace("T", " ");

const LETTER: Record<FileStatus["status"], string> = {
  modified: "M",
  added: "A",
  deleted: "D",
  renamed: "R",
  copied: "C",
  typechange: "T",
  untracked: "?",
  conflicted: "U",
};

/**
 * The XY columns of `git status -s`. The API gives one kind per file (the index's when it has
 * one), so a file changed both in the index and after it shows the worktree side as M.
 */
function xy(file: FileStatus): string {
  if (file.status === "untracked") return "??";
  if (file.status === "conflicted") return "UU";
  const letter = LETTER[file.status];
  const x = file.staged ? letter : " ";
  const y = file.unstaged ? (file.staged ? "M" : letter) : " ";
  return x + y;
}

/** `## branch...upstream [ahead 1, behind 2]`, then one `XY path` line per changed file. */
export function statusText(status: GitStatus): string {
  const counts = [status.ahead ? `ahead ${status.ahead}` : "", status.behind ? `behind ${status.behind}` : ""].filter(Boolean).join(", ");
  const where =
    status.branch === null
      ? `HEAD (detached at ${short(status.head)})`
      : status.head === null
        ? `No commits yet on ${status.branch}`
        : `${status.branch}${status.upstream ? `...${status.upstream}` : ""}`;
  const lines = [`## ${where}${counts ? ` [${counts}]` : ""}`];
  for (const file of status.files) lines.push(`${xy(file)} ${file.oldPath ? `${file.oldPath} -> ${file.path}` : file.path}`);
  return lines.join("\n");
}

/** One line per file with its added and deleted lines, then the totals (like `git diff --stat`). */
export function statText(diff: GitDiff): string {
  if (diff.files.length === 0) return "no changes";
  const rows = diff.files.map((f) => ({
    change: f.binary ? "binary" : `+${f.additions} -${f.deletions}`,
    path: f.oldPath && f.oldPath !== f.path ? `${f.oldPath} => ${f.path}` : f.path,
  }));
  const width = Math.max(...rows.map((r) => r.change.length));
  const added = diff.files.reduce((n, f) => n + f.additions, 0);
  const deleted = diff.files.reduce((n, f) => n + f.deletions, 0);
  const count = diff.files.length;
  return [
    ...rows.map((r) => `${r.change.padEnd(width)}  ${r.path}`),
    `${count} file${count === 1 ? "" : "s"} changed, ${added} insertion${added === 1 ? "" : "s"}(+), ${deleted} deletion${deleted === 1 ? "" : "s"}(-)`,
  ].join("\n");
}

export function logText(commits: GitCommitView[]): string {
  if (commits.length === 0) return "(no commits)";
  return table(
    commits.map((c) => ({ sha: short(c.sha), date: when(c.author.date), author: c.author.name, subject: c.subject })),
    ["sha", "date", "author", "subject"],
  );
}

export function branchesText(list: GitBranches): string {
  return table(
    list.branches.map((b) => ({
      branch: `${b.current ? "*" : " "} ${b.name}`,
      sha: short(b.sha),
      upstream: b.upstream,
      conversation: b.conversationId,
      worktree: b.worktree,
    })),
    ["branch", "sha", "upstream", "conversation", "worktree"],
  );
}

export function checkpointsText(items: CheckpointView[]): string {
  return table(
    items.map((c) => ({ id: c.id, time: when(c.createdAt), reason: c.reason, branch: c.branch, head: short(c.headSha), run: c.runId })),
    ["id", "time", "reason", "branch", "head", "run"],
  );
}
