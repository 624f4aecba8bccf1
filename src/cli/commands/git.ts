// `outpost git <verb> <sandbox>`: the repository in a sandbox through the git API — status,
// diffs, log, branches, commit, push/fetch/pull and checkpoints. Everything runs inside the
// sandbox; this only asks and prints. A ref or branch that starts with '-' goes after `--`
// (`outpost git switch box -- -x`), where the API refuses it with its own message.
import type { z } from "zod";
import type { CheckpointView, commitResult, GitBranches, GitDiff, GitStatus, gitLog, gitOutputResult, restoreResult } from "../../schemas/git.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { printJson } from "../output.ts";
import { branchesText, checkpointsText, logText, short, statText, statusText } from "./git-format.ts";

/** push, fetch and pull wait on the repository host: longer than the server gives git. */
const NETWORK_TIMEOUT_MS = 11 * 60_000;
export const gitHelp = `outpost git status <sandbox>                  the branch, ahead/behind its upstream, then XY path per changed file
outpost git diff <sandbox> [--staged | --from REV [--to REV]] [--path P] [--stat]
    Uncommitted changes (untracked files included) against HEAD; --staged: the index; --from/--to: between
    revisions (--to defaults to HEAD). Prints git's unified diff, or with --stat the lines added and deleted per file.
outpost git log <sandbox> [--ref REV] [--limit N] [--path P]
outpost git branches <sandbox>                * marks the current branch; shows the conversation working on each
outpost git branch <sandbox> NAME [--from REV] [--no-switch]
outpost git switch <sandbox> BRANCH
outpost git commit <sandbox> -m MESSAGE [paths…]   every change (untracked files too), or only the paths given
outpost git push <sandbox> [--branch B]        pushes the branch (default: the current one) and sets its upstream
outpost git fetch <sandbox>
outpost git pull <sandbox>                     fast-forward only
outpost git checkpoints <sandbox>
outpost git checkpoint <sandbox>               records the working tree now (untracked files included)
outpost git restore <sandbox> CHECKPOINT       puts the working tree back; prints the checkpoint that undoes it
outpost git checkpoint-diff <sandbox> CHECKPOINT [--stat]   the working tree now against a checkpoint
    A name that starts with '-' goes after --, e.g. outpost git switch my-box -- -x.`;

const OPTIONS = {
  staged: { type: "boolean", default: false },
  from: { type: "string" },
  to: { type: "string" },
  path: { type: "string" },
  stat: { type: "boolean", default: false },
  ref: { type: "string" },
  limit: { type: "string" },
  "no-switch": { type: "boolean", default: false },
  message: { type: "string", short: "m" },
  branch: { type: "string" },
} as const;

type Flag = keyof typeof OPTIONS;

/** The flags each verb takes, and how many words follow the sandbox (Infinity: any number). */
const VERBS: Record<string, { flags: Flag[]; args: [min: number, max: number, what: string] }> = {
  status: { flags: [], args: [0, 0, ""] },
  diff: { flags: ["staged", "from", "to", "path", "stat"], args: [0, 0, ""] },
  log: { flags: ["ref", "limit", "path"], args: [0, 0, ""] },
  branches: { flags: [], args: [0, 0, ""] },
  branch: { flags: ["from", "no-switch"], args: [1, 1, "a branch name"] },
  switch: { flags: [], args: [1, 1, "a branch name"] },
  commit: { flags: ["message"], args: [0, Number.POSITIVE_INFINITY, ""] },
  push: { flags: ["branch"], args: [0, 0, ""] },
  fetch: { flags: [], args: [0, 0, ""] },
  pull: { flags: [], args: [0, 0, ""] },
  checkpoints: { flags: [], args: [0, 0, ""] },
  checkpoint: { flags: [], args: [0, 0, ""] },
  restore: { flags: [], args: [1, 1, "a checkpoint id (chk_…)"] },
  "checkpoint-diff": { flags: ["stat"], args: [1, 1, "a checkpoint id (chk_…)"] },
};

export async function git(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  const [verb, sandbox, ...args] = positionals;
  const spec = verb !== undefined && Object.hasOwn(VERBS, verb) ? VERBS[verb] : undefined;
  if (!verb || !spec) throw new UsageError(verb ? `unknown verb 'git ${verb}'` : `outpost git needs a verb: ${Object.keys(VERBS).join(", ")}`);
  for (const flag of Object.keys(OPTIONS) as Flag[]) {
    const given = values[flag] !== undefined && values[flag] !== false;
    if (given && !spec.flags.includes(flag)) throw new UsageError(`--${flag} does not go with outpost git ${verb}`);
  }
  if (!sandbox) throw new UsageError(`outpost git ${verb} needs a sandbox id or name`);
  const [min, max, what] = spec.args;
  if (args.length < min) throw new UsageError(`outpost git ${verb} needs ${what}`);
  if (args.length > max) throw new UsageError(`unexpected argument '${args[max]}'`);

  const api = new ApiClient(resolveConnection(values));
  const base = `/api/v1/sandboxes/${encodeURIComponent(sandbox)}/git`;
  const arg = encodeURIComponent(args[0] ?? "");
  /** Prints the API's JSON with --json, else the text `human` makes of it. */
  const show = <T>(result: T, human: (r: T) => string): number => {
    if (values.json) printJson(result);
    else console.log(human(result));
    return 0;
  };
  const diffOut = (diff: GitDiff): number => {
    if (values.json) printJson(diff);
    else if (values.stat) console.log(statText(diff));
    // Exactly git's text, so it can go to `git apply` or a pager.
    else process.stdout.write(diff.unified);
    if (diff.truncated && !values.json) console.error("outpost: the diff was larger than 8 MiB and was cut at a file boundary");
    return 0;
  };

  switch (verb) {
    case "status": {
      const status = await api.request<GitStatus>("GET", `${base}/status`);
      show(status, statusText);
      if (status.truncated && !values.json) console.error("outpost: more than 5 000 changed files; the list stops there");
      return 0;
    }
    case "diff":
      return diffOut(await api.request<GitDiff>("GET", `${base}/diff?${diffQuery(values)}`));
    case "log": {
      const query = new URLSearchParams();
      if (values.ref !== undefined) query.set("ref", values.ref);
      if (values.limit !== undefined) query.set("limit", values.limit);
      if (values.path !== undefined) query.set("path", values.path);
      return show(await api.request<z.infer<typeof gitLog>>("GET", `${base}/log?${query}`), (r) => logText(r.commits));
    }
    case "branches":
      return show(await api.request<GitBranches>("GET", `${base}/branches`), branchesText);
    case "branch": {
      const body = { name: args[0], ...(values.from !== undefined ? { from: values.from } : {}), switch: !values["no-switch"] };
      const status = await api.request<GitStatus>("POST", `${base}/branches`, body);
      return show(status, () => `created branch ${args[0]}${values["no-switch"] ? "" : " and switched to it"}`);
    }
    case "switch":
      return show(await api.request<GitStatus>("POST", `${base}/switch`, { branch: args[0] }), (s) => `switched to ${s.branch ?? short(s.head)}`);
    case "commit": {
      if (values.message === undefined) throw new UsageError("outpost git commit needs -m MESSAGE");
      const body = { message: values.message, ...(args.length ? { paths: args } : {}) };
      const result = await api.request<z.infer<typeof commitResult>>("POST", `${base}/commit`, body);
      return show(result, (r) => `[${r.branch ?? "detached HEAD"} ${short(r.sha)}] ${r.subject}`);
    }
    case "push":
    case "fetch":
    case "pull": {
      const body = verb === "push" && values.branch !== undefined ? { branch: values.branch } : {};
      // Git's own network time (the server gives it 10 minutes), not only Outpost's.
      const result = await api.request<z.infer<typeof gitOutputResult>>("POST", `${base}/${verb}`, body, {}, NETWORK_TIMEOUT_MS);
      // git's own words go to stderr, as git prints them; stdout says what happened.
      if (!values.json && result.output) console.error(result.output);
      const done = { push: "pushed", fetch: "fetched", pull: "pulled" }[verb];
      return show(result, (r) => `${done}${r.branch ? ` ${r.branch}` : ""}`);
    }
    case "checkpoints":
      return show(await api.request<{ items: CheckpointView[] }>("GET", `${base}/checkpoints`), (r) => checkpointsText(r.items));
    case "checkpoint":
      return show(await api.request<CheckpointView>("POST", `${base}/checkpoints`, {}), (c) => `${c.id} (${c.branch ?? "detached"} at ${short(c.headSha)})`);
    case "restore": {
      const result = await api.request<z.infer<typeof restoreResult>>("POST", `${base}/checkpoints/${arg}/restore`, {});
      return show(result, (r) => `restored ${r.restored.id}\nundo with: outpost git restore ${sandbox} ${r.undo.id}`);
    }
    case "checkpoint-diff":
      return diffOut(await api.request<GitDiff>("GET", `${base}/checkpoints/${arg}/diff`));
  }
  throw new UsageError(`unknown verb 'git ${verb}'`);
}

/** The diff query: worktree by default, the index with --staged, revisions with --from/--to. */
function diffQuery(values: { staged: boolean; from?: string; to?: string; path?: string }): URLSearchParams {
  if (values.staged && (values.from !== undefined || values.to !== undefined)) throw new UsageError("--staged and --from/--to are different diffs: pick one");
  if (values.to !== undefined && values.from === undefined) throw new UsageError("--to needs --from");
  const query = new URLSearchParams({ mode: values.staged ? "staged" : values.from !== undefined ? "refs" : "worktree" });
  if (values.from !== undefined) query.set("from", values.from);
  if (values.to !== undefined) query.set("to", values.to);
  if (values.path !== undefined) query.set("path", values.path);
  return query;
}
