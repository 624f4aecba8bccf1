// PostgreSQL refuses to run as root. When Outpost runs as root, the embedded server runs
// under this unprivileged system account, created if missing, which owns only
// <data dir>/postgres. When Outpost runs as a normal user, the server runs as that user.
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname } from "node:path";
import { StartupError } from "../domain/errors.ts";

export const DB_ACCOUNT_NAME = "outpost-db";

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

export const runningAsRoot = (): boolean => process.getuid?.() === 0;

function lookup(name: string): Account | null {
  try {
    const uid = Number(execFileSync("id", ["-u", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    const gid = Number(execFileSync("id", ["-g", name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return { name, uid, gid };
  } catch {
    return null;
  }
}

/** The account the database runs as, or undefined to run as ourselves (not root). */
export function ensureDbAccount(): Account | undefined {
  if (!runningAsRoot()) return undefined;
  const existing = lookup(DB_ACCOUNT_NAME);
  if (existing) return existing;
  try {
    execFileSync("useradd", ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", DB_ACCOUNT_NAME], {
      stdio: "pipe",
    });
  } catch (error) {
    throw new StartupError(
      `cannot create the system account '${DB_ACCOUNT_NAME}' for PostgreSQL (it refuses to run as root): ${(error as Error).message.split("\n")[0]}`,
      `create it yourself: useradd --system --user-group --no-create-home ${DB_ACCOUNT_NAME}; or run Outpost as a normal user`,
    );
  }
  const created = lookup(DB_ACCOUNT_NAME);
  if (!created) throw new StartupError(`account '${DB_ACCOUNT_NAME}' vanished after creation`, `check /etc/passwd for ${DB_ACCOUNT_NAME}`);
  return created;
}

/** The first ancestor folder of `path` that `account` cannot pass through, if any. Pure
 *  enough to reason about: it only reads mode bits and owners. */
export function firstBlockingAncestor(path: string, account: Account): string | null {
  let current = dirname(path);
  const chain: string[] = [];
  while (true) {
    chain.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of chain) {
    const info = statSync(folder);
    const canPass =
      (info.uid === account.uid && (info.mode & 0o100) !== 0) || (info.gid === account.gid && (info.mode & 0o010) !== 0) || (info.mode & 0o001) !== 0;
    if (!canPass) return folder;
  }
  return null;
}
