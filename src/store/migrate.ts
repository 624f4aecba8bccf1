// Applies the versioned SQL files in migrations/ (the same files for the embedded server and
// for DATABASE_URL). A session-level advisory lock makes concurrent replicas queue instead
// of migrating twice; each file runs in its own transaction with its checksum recorded, and
// a file edited after it was applied stops the start with a clear message.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type pg from "pg";
import { StartupError } from "../domain/errors.ts";
import { packageRoot } from "../package-root.ts";

/** Arbitrary constant shared by every Outpost replica: "outpost migrations". */
const MIGRATION_LOCK = 7_300_001;

export interface Migration {
  version: string;
  sql: string;
  checksum: string;
}

export function loadMigrations(dir = join(packageRoot(), "migrations")): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(join(dir, file), "utf8");
      return { version: file.replace(/\.sql$/, ""), sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

/** Returns the versions it applied (empty when already up to date). */
export async function migrate(pool: pg.Pool, migrations = loadMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      "create table if not exists schema_migrations (version text primary key, checksum text not null, applied_at timestamptz not null default now())",
    );
    const done = new Map(
      (await client.query<{ version: string; checksum: string }>("select version, checksum from schema_migrations")).rows.map((r) => [r.version, r.checksum]),
    );
    for (const migration of migrations) {
      const seen = done.get(migration.version);
      if (seen !== undefined) {
        if (seen !== migration.checksum) {
          throw new StartupError(
            `migration ${migration.version} was changed after it was applied`,
            "restore the original file and add a new migration for the change",
          );
        }
        continue;
      }
      await client.query("begin");
      try {
        await client.query(migration.sql);
        await client.query("insert into schema_migrations (version, checksum) values ($1, $2)", [migration.version, migration.checksum]);
        await client.query("commit");
      } catch (error) {
        await client.query("rollback");
        throw error;
      }
      applied.push(migration.version);
    }
    return applied;
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}

/** True when every migration file is recorded as applied (used by /readyz). */
export async function migrationsApplied(pool: pg.Pool, migrations = loadMigrations()): Promise<boolean> {
  try {
    const rows = (await pool.query<{ version: string }>("select version from schema_migrations")).rows;
    const done = new Set(rows.map((r) => r.version));
    return migrations.every((m) => done.has(m.version));
  } catch {
    return false;
  }
}
