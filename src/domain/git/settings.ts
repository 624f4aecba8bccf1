// A project's git settings as stored in projects.git (pure): who commits, which credential
// variable carries the token for HTTPS and pull requests, and the SSH host keys Outpost pinned.
import { DEFAULT_GIT_IDENTITY, type GitIdentity } from "./sandbox-env.ts";

export interface GitSettings {
  identity?: GitIdentity;
  /** The project credential holding a token for the repository host (HTTPS) and GitHub's API. */
  tokenVariable?: string;
  /** known_hosts lines for the repository's SSH host. */
  knownHosts?: string;
}

/** The variable a project's token is read from when none is named. */
export const DEFAULT_TOKEN_VARIABLE = "GITHUB_TOKEN";

export function gitSettings(stored: Partial<GitSettings> | null | undefined): Required<Pick<GitSettings, "identity" | "tokenVariable">> & GitSettings {
  return {
    ...stored,
    identity: stored?.identity ?? DEFAULT_GIT_IDENTITY,
    tokenVariable: stored?.tokenVariable ?? DEFAULT_TOKEN_VARIABLE,
  };
}

/** Branch names for conversations: `outpost/<words of the title>-<4 of the id>`. */
export function conversationBranch(title: string, conversationId: string): string {
  const words = title
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 40)
    .replace(/-+$/, "");
  const suffix = conversationId.replace(/^cnv_/, "").slice(0, 6);
  return `outpost/${words ? `${words}-` : ""}${suffix}`;
}

/** Where a conversation's own worktree lives: in the sandbox's home, outside the repository it branches from. */
export function conversationWorktree(branch: string): string {
  return `/home/outpost/worktrees/${branch.replace(/^outpost\//, "")}`;
}
