// The data dir's layout and the small secrets kept in it. One place names every path so
// nothing else builds them by hand.
//   <data dir>/               0711 when root (the database account must traverse it), else 0700
//     admin-token             0600  the admin API token, read by the CLI
//     secret.key              0600  32 random bytes (base64) encrypting secrets at rest
//     server.json             0600  where the running server listens, for the CLI
//     postgres/               owned by the database account: data/, run/ (socket), password, server.log
//     projects-postgres/      the same for the server holding projects' databases (managed provisioner)
//     sandboxes/              0711  one folder per sandbox (local driver)
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KEY_BYTES, parseSecretKey } from "../crypto/secrets.ts";
import { StartupError } from "../domain/errors.ts";

export const dataPaths = (dataDir: string) => ({
  root: dataDir,
  adminToken: join(dataDir, "admin-token"),
  secretKey: join(dataDir, "secret.key"),
  serverInfo: join(dataDir, "server.json"),
  postgres: join(dataDir, "postgres"),
  projectsPostgres: join(dataDir, "projects-postgres"),
  sandboxes: join(dataDir, "sandboxes"),
});

export function ensureDataDir(dataDir: string, runningAsRoot: boolean): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Root runs PostgreSQL and sandboxes under other accounts that must pass through (not
    // list) this folder to reach their own subfolder.
    chmodSync(dataDir, runningAsRoot ? 0o711 : 0o700);
  } catch (error) {
    throw new StartupError(
      `cannot create the data dir ${dataDir}: ${(error as Error).message}`,
      "set OUTPOST_DATA_DIR to a folder you can write, e.g. OUTPOST_DATA_DIR=$HOME/.outpost",
    );
  }
}

/** Writes a file atomically (temp + rename) with mode 0600, so a crash never leaves half a secret. */
export function writePrivateFile(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  renameSync(temp, path);
}

/** The key that encrypts secrets: OUTPOST_SECRET_KEY if given, else <data dir>/secret.key (created once). */
export function loadSecretKey(dataDir: string, fromEnv: string | undefined): Buffer {
  if (fromEnv !== undefined) {
    const key = parseSecretKey(fromEnv);
    if (!key) throw new StartupError("OUTPOST_SECRET_KEY is not base64 (or hex) of 32 bytes", "generate one with: openssl rand -base64 32");
    return key;
  }
  const path = dataPaths(dataDir).secretKey;
  if (!existsSync(path)) writePrivateFile(path, `${randomBytes(KEY_BYTES).toString("base64")}\n`);
  const key = parseSecretKey(readFileSync(path, "utf8"));
  if (!key) throw new StartupError(`${path} does not hold a 32-byte base64 key`, `restore it from a backup, or (losing stored secrets) delete ${path}`);
  return key;
}
