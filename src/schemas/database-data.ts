// What is in a project's database, as the API shows it: tables with row counts, a read-only
// query's answer, branches (copies for a conversation), and a restore's summary.
import { z } from "zod";
import { text } from "./common.ts";

export const databaseTable = z
  .object({
    schema: z.string(),
    name: z.string(),
    rows: z.number().nullable().describe("Counted when `exact`; otherwise the planner's estimate (null: the table was never analysed)."),
    exact: z.boolean().describe("Whether `rows` was counted (small tables) or estimated (big ones)."),
    sizeBytes: z.number().describe("The table with its indexes and TOAST (pg_total_relation_size)."),
  })
  .meta({ id: "DatabaseTable" });

export const databaseTables = z.object({ items: z.array(databaseTable).describe("Tables, partitioned, foreign tables and materialised views; at most 1000.") });

export const databaseQueryBody = z
  .object({
    sql: text(100_000).min(1).describe("One statement (no second one after `;`). Runs read-only, as the project's role, for 5 s at most."),
  })
  .strict();

export const databaseQueryAnswer = z
  .object({
    columns: z.array(z.object({ name: z.string(), type: z.string().describe("The type's name, e.g. int4, text, timestamptz.") })),
    rows: z.array(z.array(z.string().nullable())).describe("Each value as PostgreSQL prints it (text), or null; in column order."),
    truncated: z.boolean().describe("True when rows (past 500, or 1 MiB in all) or the end of a value (past 64 KiB) were left out."),
    command: z.string().nullable().describe("The statement's tag, e.g. SELECT; null when the answer was cut short."),
    durationMs: z.number().int(),
  })
  .meta({ id: "DatabaseQueryAnswer" });

export const databaseRestoreAnswer = z
  .object({ name: z.string().describe("The database restored into."), durationMs: z.number().int() })
  .meta({ id: "DatabaseRestore" });

export const databaseBranch = z
  .object({
    id: z.string().describe("`db_…`"),
    name: z.string().describe("The copy's name on the server (`<database>_b_<suffix>`), also its role's."),
    role: z.string(),
    status: z.enum(["pending", "ready", "missing", "failed"]).describe("pending: being copied (or a copy cut short: drop it); failed: see error."),
    parentId: z.string().describe("The database it is a branch of (the project's)."),
    conversationId: z.string().nullable().describe("The conversation it was made for, if any."),
    connectionString: z
      .string()
      .describe("How a sandbox of the project reaches it (127.0.0.1:5432 inside); the password is `****` unless ?reveal=true (editors)."),
    error: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: "DatabaseBranch" });

export const databaseBranches = z.object({ items: z.array(databaseBranch) });

export const createBranchBody = z
  .object({
    conversationId: z
      .string()
      .regex(/^cnv_[a-z0-9]{6,32}$/, "must be a conversation id (cnv_…)")
      .optional()
      .describe("A conversation of the project the copy is for."),
  })
  .strict()
  .nullish()
  .transform((body) => body ?? {});

export const promoteBranchBody = z
  .object({
    confirm: z.string().min(1).max(200).describe("The project's name, typed out: the branch becomes the project's database and the current one is dropped."),
  })
  .strict();

export const branchParams = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/, "must be an id or a name (letters, digits, '-' and '_')")
      .describe("Project id or name."),
    dbid: z.string().regex(/^db_[a-z0-9]{6,32}$/, "must be a database id (db_…)"),
  })
  .strict();
