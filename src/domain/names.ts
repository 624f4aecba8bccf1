// Validation of user-chosen names and references. Pure: no I/O. Each function returns a
// reason (a sentence for the user) or null when the value is acceptable, so zod schemas
// and the CLI can share one source of truth.

/** Project names become DNS labels (`<project>-<6 chars>` for sandboxes): ≤ 40 keeps the
 *  sandbox name within the 63-character DNS-1123 limit with room to spare. */
export const PROJECT_NAME_MAX = 40;

export function projectNameProblem(name: string): string | null {
  if (name.length === 0) return "must not be empty";
  if (name.length > PROJECT_NAME_MAX) return `must be at most ${PROJECT_NAME_MAX} characters (got ${name.length})`;
  if (!/^[a-z0-9-]+$/.test(name)) return "may contain only lowercase letters a-z, digits and '-' (a DNS-1123 label)";
  if (!/^[a-z]/.test(name)) return "must start with a lowercase letter";
  if (name.endsWith("-")) return "must not end with '-'";
  return null;
}

/** Git branch names (a practical subset of `git check-ref-format --branch`). */
export function branchNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 255) return "must be 1 to 255 characters";
  if (name.startsWith("-")) return "must not start with '-'";
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) return "must not start or end with '/' or contain '//'";
  if (name.includes("..") || name.includes("@{") || name === "@") return "must not contain '..' or '@{'";
  if (name.endsWith(".lock") || name.endsWith(".")) return "must not end with '.lock' or '.'";
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return "must not contain spaces, control characters or any of ~ ^ : ? * [ \\";
  if (name.split("/").some((part) => part.startsWith("."))) return "no path component may start with '.'";
  return null;
}

/** A DNS name or IPv4 address: letters, digits, dots and inner hyphens (never a leading '-'). */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/i;

/** Repository URLs: only network transports. `ext::` runs commands, `file://` and bare
 *  paths read the host's disk, and credentials in the URL would be stored in plain text. */
export function repoUrlProblem(url: string): string | null {
  if (url.length > 2048) return "must be at most 2048 characters";
  if (/[\x00-\x20\x7f]/.test(url)) return "must not contain spaces or control characters";
  if (url.startsWith("-")) return "must not start with '-'";
  const scpLike = /^([a-zA-Z0-9._-]+)@([a-zA-Z0-9.-]+):(?!\/\/)([^\s]+)$/.exec(url);
  if (scpLike) {
    // ssh would read a user, host or path that starts with '-' as one of its options.
    if (scpLike[1]?.startsWith("-") || !HOST_NAME.test(scpLike[2] ?? "")) return "user and host must not start with '-' and the host must be a DNS name";
    return scpLike[3]?.startsWith("-") ? "path must not start with '-'" : null;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an https://, http://, ssh:// or git@host:path URL";
  }
  if (!["https:", "http:", "ssh:"].includes(parsed.protocol)) {
    return `transport '${parsed.protocol.replace(/:$/, "")}' is not allowed; use https://, http:// or ssh://`;
  }
  if (!parsed.hostname) return "must name a host";
  if (!HOST_NAME.test(parsed.hostname) && !/^\[[0-9a-f:.]+\]$/.test(parsed.hostname)) return "the host must be a DNS name or an IP address";
  if (decodeURIComponent(parsed.username).startsWith("-")) return "the user must not start with '-'";
  if (parsed.password) return "must not embed a password or token; store credentials as project env or git credentials instead";
  if (parsed.pathname === "/" || parsed.pathname === "") return "must name a repository path";
  return null;
}

/** Environment variable names, as POSIX shells accept them. */
export function envNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > 128) return "must be 1 to 128 characters";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return "must match [A-Za-z_][A-Za-z0-9_]*";
  return null;
}
