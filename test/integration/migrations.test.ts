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

  test("0007 makes each existing project's creator its owner, and project names unique per creator only", async () => {
    const db = await freshMachineDatabase();
    const pool = createPool({ connectionString: db.url });
    try {
      const all = loadMigrations();
      const at = all.findIndex((m) => m.version === "0007_project_members");
      await migrate(pool, all.slice(0, at));
      await pool.query("insert into users (id, name) values ('usr_a', 'a'), ('usr_b', 'b')");
      await pool.query("insert into projects (id, owner_id, name) values ('prj_1', 'usr_a', 'shop'), ('prj_2', 'usr_b', 'blog')");
      await migrate(pool, all);
      const { rows } = await pool.query("select project_id, user_id, role from project_members order by project_id");
      assert.deepEqual(rows, [
        { project_id: "prj_1", user_id: "usr_a", role: "owner" },
        { project_id: "prj_2", user_id: "usr_b", role: "owner" },
      ]);
      await pool.query("insert into projects (id, owner_id, name) values ('prj_3', 'usr_b', 'shop')");
      await assert.rejects(pool.query("insert into projects (id, owner_id, name) values ('prj_4', 'usr_a', 'shop')"), /projects_owner_name_key/);
      const users = await pool.query("select name, seq from users order by seq");
      assert.equal(users.rows.length, 2, "existing users are numbered for the list's cursor");
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
