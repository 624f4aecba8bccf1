// GET /readyz: ready once the database answers and every migration is applied (a replica
// that started while another was migrating waits for it).
import type pg from "pg";
import { migrationsApplied } from "../store/migrate.ts";

export async function readiness(pool: pg.Pool): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
  const databaseUp = await pool
    .query("select 1")
    .then(() => true)
    .catch(() => false);
  const migrated = databaseUp && (await migrationsApplied(pool));
  return { ready: databaseUp && migrated, checks: { database: databaseUp, migrations: migrated } };
}
