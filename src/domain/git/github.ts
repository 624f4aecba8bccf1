// GitHub, the pure parts (no I/O): which repository a project's URL names, the pull request
// a conversation drafts when the user gives no title or body, and GitHub's view of a pull
// request and its checks turned into the one Outpost shows on the conversation.
import { repoEndpoint } from "./repo-url.ts";

/** Where a pull request goes: the host the repository lives on and its owner/name there. */
export interface GitHubRepository {
  host: string;
  owner: string;
  repo: string;
}

// GitHub's own limits: an owner is 1-39 letters, digits and single hyphens; a repository
// name letters, digits, `.`, `-`, `_`. Anything else is not a GitHub repository.
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;
const HOST = /^[A-Za-z0-9.-]{1,253}$/;

/**
 * The owner and name a repository URL names, on github.com or a GitHub Enterprise host:
 * `https://host/owner/repo(.git)`, `ssh://git@host[:port]/owner/repo(.git)` and the scp form
 * `git@host:owner/repo(.git)`. Null when the URL is none of these.
 */
export function githubRepository(url: string): GitHubRepository | null {
  const endpoint = repoEndpoint(url.trim());
  if (!endpoint) return null;
  const parts = endpoint.path.replace(/\/+$/, "").split("/");
  if (parts.length !== 2) return null;
  const owner = parts[0] ?? "";
  const repo = (parts[1] ?? "").replace(/\.git$/, "");
  if (!HOST.test(endpoint.host) || !OWNER.test(owner) || !REPO.test(repo) || repo === "." || repo === "..") return null;
  return { host: endpoint.host, owner, repo };
}

/** What a conversation contributes to its pull request's draft. */
export interface ConversationDraftInput {
  title: string;
  /** Each turn: what was asked, and the agent's last message (its summary), if any. */
  turns: { prompt: string; summary: string | null }[];
  /** Where the conversation is shown in Outpost (null: no link line). */
  link: string | null;
}

export interface PullRequestDraft {
  title: string;
  body: string;
}

// GitHub takes titles up to 256 characters and bodies up to 65536; a draft stays well inside.
const MAX_TITLE = 120;
const MAX_PROMPT = 2_000;
const MAX_SUMMARY = 4_000;
const MAX_BODY = 60_000;

/** The title and body a pull request gets from its conversation when the user gives none. */
export function draftPullRequest(input: ConversationDraftInput): PullRequestDraft {
  const firstPrompt = input.turns[0]?.prompt ?? "";
  const title = oneLine(input.title && input.title !== "New conversation" ? input.title : firstPrompt) || "Changes from Outpost";
  const sections: string[] = [];
  input.turns.forEach((turn, index) => {
    const heading = input.turns.length > 1 ? `### Request ${index + 1}` : "### Request";
    const lines = [heading, "", quote(clip(turn.prompt.trim(), MAX_PROMPT))];
    if (turn.summary?.trim()) lines.push("", "**Result**", "", clip(turn.summary.trim(), MAX_SUMMARY));
    sections.push(lines.join("\n"));
  });
  if (input.link) sections.push(`---\nMade with Outpost: ${input.link}`);
  return { title: clip(title, MAX_TITLE), body: clip(sections.join("\n\n"), MAX_BODY) };
}

/** A pull request as Outpost shows it on the conversation (stored in conversations.pull_request). */
export interface PullRequestView {
  number: number;
  url: string;
  state: "open" | "merged" | "closed";
  draft: boolean;
  headSha: string;
  base: string;
  head: string;
  checks: { total: number; passed: number; failed: number; pending: number };
  updatedAt: string;
}

/** The fields of GitHub's pull request object that Outpost reads. */
export interface GitHubPullRequest {
  number: number;
  html_url: string;
  state: "open" | "closed";
  draft?: boolean;
  merged?: boolean;
  merged_at?: string | null;
  head: { ref: string; sha: string };
  base: { ref: string };
  updated_at?: string;
}

/** The fields of one of GitHub's check runs that Outpost reads. */
export interface GitHubCheckRun {
  status: string;
  conclusion: string | null;
}

// Conclusions that do not block a merge; anything else that finished is a failure.
const PASSING = new Set(["success", "neutral", "skipped"]);

export function summarizeChecks(runs: readonly GitHubCheckRun[]): PullRequestView["checks"] {
  const checks = { total: runs.length, passed: 0, failed: 0, pending: 0 };
  for (const run of runs) {
    if (run.status !== "completed") checks.pending++;
    else if (run.conclusion && PASSING.has(run.conclusion)) checks.passed++;
    else checks.failed++;
  }
  return checks;
}

export function pullRequestView(pr: GitHubPullRequest, checkRuns: readonly GitHubCheckRun[], now: Date): PullRequestView {
  const merged = pr.merged === true || Boolean(pr.merged_at);
  return {
    number: pr.number,
    url: pr.html_url,
    state: merged ? "merged" : pr.state === "open" ? "open" : "closed",
    draft: pr.draft === true,
    headSha: pr.head.sha,
    base: pr.base.ref,
    head: pr.head.ref,
    checks: summarizeChecks(checkRuns),
    updatedAt: (pr.updated_at ? new Date(pr.updated_at) : now).toISOString(),
  };
}

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim();

function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 1;
  if (/[\uD800-\uDBFF]/.test(text.charAt(end - 1))) end--;
  return `${text.slice(0, end)}…`;
}

const quote = (text: string): string =>
  text
    .split("\n")
    .map((line) => (line ? `> ${line}` : ">"))
    .join("\n");
