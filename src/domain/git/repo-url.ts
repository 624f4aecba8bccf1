// Where a project's repository lives, as the sandbox and the egress proxy see it (pure).
// The URL was already checked by repoUrlProblem (names.ts): only network transports.

export interface RepoEndpoint {
  transport: "ssh" | "https" | "http";
  /** Lower-case host name (IPv6 without brackets). */
  host: string;
  port: number;
  /** The repository path on the host, without a leading slash (`owner/name.git`). */
  path: string;
}

const DEFAULT_PORTS = { ssh: 22, https: 443, http: 80 } as const;

/** Null when the URL is not one Outpost clones from (it would have been refused at input). */
export function repoEndpoint(url: string): RepoEndpoint | null {
  const scpLike = /^[a-zA-Z0-9._-]+@([a-zA-Z0-9.-]+):(?!\/\/)(\S+)$/.exec(url);
  if (scpLike) return { transport: "ssh", host: (scpLike[1] as string).toLowerCase(), port: 22, path: (scpLike[2] as string).replace(/^\/+/, "") };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const transport = parsed.protocol.replace(/:$/, "");
  if (transport !== "ssh" && transport !== "https" && transport !== "http") return null;
  const host = parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (!host) return null;
  return { transport, host, port: parsed.port ? Number(parsed.port) : DEFAULT_PORTS[transport], path: decodeURIComponent(parsed.pathname).replace(/^\/+/, "") };
}

/** `owner/name` of a repository path (`owner/name.git`, `/owner/name`); null when it has no two parts. */
export function ownerAndName(path: string): { owner: string; name: string } | null {
  const parts = path
    .replace(/\.git$/, "")
    .split("/")
    .filter(Boolean);
  if (parts.length < 2) return null;
  return { owner: parts[parts.length - 2] as string, name: parts[parts.length - 1] as string };
}
