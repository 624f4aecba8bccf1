// `git status --porcelain=v2 --branch -z` read into what people see (pure). Paths arrive
// NUL-separated, so no quoting rules apply and any byte in a name survives.

export interface GitFileStatus {
  path: string;
  oldPath: string | null;
  status: "modified" | "added" | "deleted" | "renamed" | "copied" | "typechange" | "untracked" | "conflicted";
  staged: boolean;
  unstaged: boolean;
}

export interface GitStatus {
  branch: string | null;
  head: string | null;
  upstream: string | null;
  ahead: number;
  behind: number;
  clean: boolean;
  files: GitFileStatus[];
  truncated: boolean;
}

export const MAX_STATUS_FILES = 5000;

type FileStatus = GitFileStatus;

const KIND: Record<string, FileStatus["status"]> = { M: "modified", A: "added", D: "deleted", R: "renamed", C: "copied", T: "typechange" };

export function parseStatus(output: string): GitStatus {
  const fields = output.split("\0");
  const status: GitStatus = { branch: null, head: null, upstream: null, ahead: 0, behind: 0, clean: true, files: [], truncated: false };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    if (!field) continue;
    if (field.startsWith("# ")) {
      readHeader(status, field.slice(2));
      continue;
    }
    status.clean = false;
    if (status.files.length >= MAX_STATUS_FILES) {
      status.truncated = true;
      if (field.startsWith("2 ")) i++;
      continue;
    }
    const file = readEntry(field, () => fields[++i] ?? "");
    if (file) status.files.push(file);
  }
  return status;
}

function readHeader(status: GitStatus, header: string): void {
  const [key, ...rest] = header.split(" ");
  const value = rest.join(" ");
  if (key === "branch.oid") status.head = value === "(initial)" ? null : value;
  else if (key === "branch.head") status.branch = value === "(detached)" ? null : value;
  else if (key === "branch.upstream") status.upstream = value;
  else if (key === "branch.ab") {
    const match = /^\+(\d+) -(\d+)$/.exec(value);
    if (match) {
      status.ahead = Number(match[1]);
      status.behind = Number(match[2]);
    }
  }
}

/** One entry; `next` takes the following NUL field (a rename's old path). */
function readEntry(field: string, next: () => string): FileStatus | null {
  const kind = field[0];
  if (kind === "?") return { path: field.slice(2), oldPath: null, status: "untracked", staged: false, unstaged: true };
  if (kind === "!") return null;
  const parts = field.split(" ");
  const xy = parts[1] ?? "..";
  const [x, y] = [xy[0] ?? ".", xy[1] ?? "."];
  if (kind === "u") return { path: parts.slice(10).join(" "), oldPath: null, status: "conflicted", staged: false, unstaged: true };
  if (kind === "1") {
    const path = parts.slice(8).join(" ");
    return { path, oldPath: null, status: KIND[x !== "." ? x : y] ?? "modified", staged: x !== ".", unstaged: y !== "." };
  }
  if (kind === "2") {
    const path = parts.slice(9).join(" ");
    return { path, oldPath: next(), status: KIND[x !== "." ? x : y] ?? "renamed", staged: x !== ".", unstaged: y !== "." };
  }
  return null;
}
