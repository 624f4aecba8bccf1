// The git flags of `outpost project update`: who the agent's commits are by, which
// credential holds the repository's token, and the SSH host keys to trust (the project's
// `git` settings). `none` resets one to its default.
import { readFileSync } from "node:fs";
import { UsageError } from "../args.ts";

export const GIT_OPTIONS = {
  "git-name": { type: "string" },
  "git-email": { type: "string" },
  "git-token-variable": { type: "string" },
  "known-hosts-file": { type: "string" },
} as const;

export const gitFlagsHelp = `    --git-name NAME --git-email EMAIL: who the agent's commits are by (both, or none to reset to Outpost Agent).
    --git-token-variable NAME|none: the credential with the token for the repository host and pull requests
    (default GITHUB_TOKEN). --known-hosts-file FILE|none: the SSH host keys to trust (default: pinned by Outpost).`;

export interface GitFlagValues {
  "git-name"?: string;
  "git-email"?: string;
  "git-token-variable"?: string;
  "known-hosts-file"?: string;
}

type GitChange = { identity?: { name: string; email: string } | null; tokenVariable?: string | null; knownHosts?: string | null };

/** The `git` field of a PATCH, or undefined when no git flag was given. */
export function gitChange(values: GitFlagValues): GitChange | undefined {
  const change: GitChange = {};
  const name = values["git-name"];
  const email = values["git-email"];
  if (name !== undefined || email !== undefined) {
    if (name === "none" || email === "none") change.identity = null;
    else if (name === undefined || email === undefined) throw new UsageError("--git-name and --git-email go together");
    else change.identity = { name, email };
  }
  const token = values["git-token-variable"];
  if (token !== undefined) change.tokenVariable = token === "none" ? null : token;
  const file = values["known-hosts-file"];
  if (file !== undefined) change.knownHosts = file === "none" ? null : readFileSync(file, "utf8");
  return Object.keys(change).length ? change : undefined;
}
