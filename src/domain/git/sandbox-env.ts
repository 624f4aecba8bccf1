// What every command in a sandbox is told about git (pure): who commits, how ssh reaches
// the repository (through the egress proxy, with the host keys Outpost pinned and the
// project's deploy key behind an agent socket served by the host), and for agent turns,
// the trailers each commit gets. No secret is ever part of it.
import { NETWORK_PATHS } from "../sandbox-network.ts";

export interface GitIdentity {
  name: string;
  email: string;
}

export const DEFAULT_GIT_IDENTITY: GitIdentity = { name: "Outpost Agent", email: "agent@outpost.local" };

/** Paths inside the sandbox (read-only; the control plane's). */
export const GIT_PATHS = {
  sshAgentSocket: "/run/outpost/ssh-agent.sock",
  knownHostsCommand: "/opt/outpost/bin/outpost-known-hosts",
  hooks: "/opt/outpost/git-hooks",
} as const;

export interface GitEnvInput {
  identity?: GitIdentity | null;
  /** known_hosts lines for the repository's SSH host (pinned by the control plane). */
  knownHosts?: string | null;
}

export function gitSandboxEnv(input: GitEnvInput): Record<string, string> {
  const who = input.identity ?? DEFAULT_GIT_IDENTITY;
  const ssh = [
    "ssh",
    `-o ProxyCommand="${NETWORK_PATHS.sshProxy} %h %p"`,
    "-o BatchMode=yes",
    // Only keys Outpost pinned count: a file the sandbox can write must not decide whom to trust.
    "-o StrictHostKeyChecking=yes",
    "-o UserKnownHostsFile=/dev/null",
    "-o GlobalKnownHostsFile=/dev/null",
    `-o KnownHostsCommand=${GIT_PATHS.knownHostsCommand}`,
  ].join(" ");
  return {
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_COMMITTER_NAME: who.name,
    GIT_COMMITTER_EMAIL: who.email,
    GIT_SSH_COMMAND: ssh,
    SSH_AUTH_SOCK: GIT_PATHS.sshAgentSocket,
    // git must never stop to ask for a password on a terminal nobody watches.
    GIT_TERMINAL_PROMPT: "0",
    ...(input.knownHosts ? { OUTPOST_GIT_KNOWN_HOSTS: input.knownHosts } : {}),
  };
}

export interface TurnTrailers {
  /** The person who asked: `Name <email>`; none when Outpost does not know their email. */
  coAuthor?: GitIdentity | null;
  conversationId: string;
  /** Where the conversation can be read, when the public URL is known. */
  conversationUrl?: string;
}

/** Trailers for commits made during an agent turn: who asked, and which conversation. */
export function turnTrailers(input: TurnTrailers): string[] {
  const lines: string[] = [];
  if (input.coAuthor) lines.push(`Co-authored-by: ${oneLine(input.coAuthor.name)} <${oneLine(input.coAuthor.email)}>`);
  lines.push(`Outpost-Conversation: ${input.conversationUrl ?? input.conversationId}`);
  return lines;
}

/**
 * The environment of an agent turn's process on top of gitSandboxEnv: its trailers, and
 * git's hook folder pointed (by environment, so no config file changes) at Outpost's
 * read-only hooks, which add them to every commit and then run the repository's own hook.
 */
export function turnGitEnv(trailers: string[]): Record<string, string> {
  return {
    OUTPOST_GIT_TRAILERS: trailers.join("\n"),
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "core.hooksPath",
    GIT_CONFIG_VALUE_0: GIT_PATHS.hooks,
  };
}

const oneLine = (text: string) => text.replace(/[\r\n<>]+/g, " ").trim();
