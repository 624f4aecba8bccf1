// Start-up: the admin's API token for the CLI.
import { readFileSync } from "node:fs";
import { writePrivateFile } from "../config/data-dir.ts";
import type { Settings } from "../config/settings.ts";
import type { AuthService, User } from "../services/auth.ts";

/**
 * The admin token lives in <data dir>/admin-token for the CLI. On the embedded database a
 * missing or stale file gets a fresh token (the previous one is revoked): whoever can read
 * the data dir is the admin anyway. With DATABASE_URL several replicas share the users, so
 * a replica only adds a token and never revokes another's.
 */
export async function ensureAdminToken(auth: AuthService, admin: User, settings: Settings, file: string, kind: "embedded" | "external"): Promise<void> {
  if (settings.adminToken) await auth.registerAdminToken(admin, settings.adminToken);
  let existing: string | undefined;
  try {
    existing = readFileSync(file, "utf8").trim();
  } catch {}
  if (existing && (await auth.userForToken(existing))?.id === admin.id) return;
  const token = kind === "embedded" ? await auth.rotateAdminToken(admin) : (await auth.createToken(admin, "admin")).token;
  writePrivateFile(file, `${token}\n`);
}
