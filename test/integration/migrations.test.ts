// Migrations: versioned SQL files, applied once even when replicas start together, and a
// file edited after it was applied stops the start instead of drifting silently.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { StartupError } from "../../src/domain/errors.ts";
import { createPool } from "../../src/store/database.ts";
import { loadMigrations, migrate, migrationsApplied } from "../../src/store/migrate.ts";
import { freshMachineDatabase } from "../helpers/server.ts";

describe("migrations", () => {
  test("three replicas migrating the same database at once apply each file exactly once", async () => {
    const db = await freshMachineDatabase();
    const pools = [0, 1, 2].map(() => createPool({ connectionString: db.url }));
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      const applied = results.flat();
      assert.deepEqual(
        applied.sort(),
        loadMigrations()
          .map((m) => m.version)
          .sort(),
      );
      assert.equal(await migrationsApplied(pools[0]!), true);
      assert.deepEqual(await migrate(pools[0]!), [], "a second run has nothing to do");
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    }
  });

  test("a migration changed after it was applied stops the start with a clear message", async () => {
    const db = await freshMachineDatabase();
    const pool = createPool({ connectionString: db.url });
    try {
      await migrate(pool);
      const edited = loadMigrations().map((m, i) => (i === 0 ? { ...m, checksum: "different" } : m));
      await assert.rejects(migrate(pool, edited), (e: unknown) => e instanceof StartupError && /changed after it was applied/.test(e.message));
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
