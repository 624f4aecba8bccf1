// A project's PostgreSQL database as the API shows it, and what its routes take. The
// connection string is the one the project's sandboxes get as DATABASE_URL (127.0.0.1:5432
// inside; bridged to the server), with the password masked unless revealed.
import { z } from "zod";

export const DATABASE_STATUSES = ["pending", "ready", "missing", "failed"] as const;

export const database = z
  .object({
    id: z.string().describe("`db_…`"),
    projectId: z.string().nullable().describe("Null once its project was deleted and the database kept."),
    projectName: z.string().describe("The project's name when the database was made (or attached)."),
    status: z
      .enum(DATABASE_STATUSES)
      .describe(
        "pending: being made; ready: there and usable; missing: gone from its server (recreate it with POST …/database); failed: making it failed (see error).",
      ),
    provisioner: z.string().describe("What holds it: managed (a PostgreSQL server Outpost runs) or server (an existing one)."),
    name: z.string().describe("The database's name on its server (`p_<project>_<suffix>`)."),
    role: z.string().describe("The role that owns it, which sandboxes log in as."),
    host: z.string().describe("As the project's sandboxes see it: 127.0.0.1."),
    port: z.number().int().describe("As the project's sandboxes see it: 5432."),
    sizeBytes: z.number().nullable().describe("pg_database_size; null when it is not on its server."),
    serverVersion: z.string().nullable().describe("The server's PostgreSQL version, e.g. 15.18."),
    extensions: z
      .array(z.object({ name: z.string(), version: z.string().nullable() }))
      .describe("Extensions the server can install (CREATE EXTENSION), e.g. vector where it has pgvector."),
    connectionString: z.string().describe("DATABASE_URL as the sandbox gets it; the password is `****` unless ?reveal=true (editors)."),
    parentId: z.string().nullable().describe("Set on a branch: the database it was copied from."),
    error: z.string().nullable().describe("Why it is failed or missing, when it is."),
    createdAt: z.string(),
  })
  .meta({ id: "Database" });

export type Database = z.infer<typeof database>;

export const databaseRevealQuery = z
  .object({ reveal: z.enum(["true", "false"]).optional().describe("true shows the password in connectionString (needs editor).") })
  .strict();

const confirmation = z.string().min(1).max(200);

export const resetDatabaseBody = z
  .object({ confirm: confirmation.describe("The project's name, typed out: the database is dropped and made again empty.") })
  .strict();

export const deleteDatabaseQuery = z
  .object({ confirm: confirmation.describe("The project's name, typed out: the database and its data are dropped for good.") })
  .strict();

export const databaseIdParam = z.object({ dbid: z.string().regex(/^db_[a-z0-9]{6,32}$/, "must be a database id (db_…)") }).strict();

export const attachDatabaseBody = z
  .object({
    project: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, "must be a project id or name")
      .describe("The project (id or name) that gets the kept database; it must have none."),
  })
  .strict();

export const dropKeptDatabaseQuery = z
  .object({ confirm: confirmation.describe("The database's name (`name`), typed out: it and its data are dropped for good.") })
  .strict();

/** `DELETE /projects/{id}?database=…`: what happens to the project's database. */
export const projectDeleteQuery = z
  .object({
    database: z
      .enum(["keep", "drop"])
      .optional()
      .describe("Required when the project has a database: keep it (admins list it at GET /api/v1/databases) or drop it and its data."),
  })
  .strict();
