// The child process of bench/pglite.ts. bench/pglite.ts strips the types and runs it with
// plain `node` (no tsx loader in this process, so its memory is PGlite's and Node's only).
// Self-contained on purpose: only node: built-ins, PGlite imported from the URL it is given.
//   node pglite-child.mjs <data dir> <pglite module URL> <migrations dir>
// Opens PGlite on the data dir, applies the repo's migrations the way the control plane does
// (one transaction per file, recorded in schema_migrations), runs one insert and one select,
// prints one JSON line with the timings, then waits for "close" on stdin, closes and exits.
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { PGlite } from "@electric-sql/pglite";

interface Failure {
  file: string;
  statement: string;
  error: string;
}

const [dataDir, pgliteUrl, migrationsDir] = process.argv.slice(2);
if (!dataDir || !pgliteUrl || !migrationsDir) {
  process.stderr.write("usage: pglite-child <data dir> <pglite module URL> <migrations dir>\n");
  process.exit(2);
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Splits SQL into statements on `;`, skipping quotes, identifiers, dollar quotes and comments. */
function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < sql.length) {
    const rest = sql.slice(i);
    if (rest.startsWith("--")) i = sql.indexOf("\n", i) === -1 ? sql.length : sql.indexOf("\n", i);
    else if (rest.startsWith("/*")) i = sql.indexOf("*/", i) === -1 ? sql.length : sql.indexOf("*/", i) + 2;
    else if (sql[i] === "'" || sql[i] === '"') {
      const quote = sql[i]!;
      i++;
      while (i < sql.length && !(sql[i] === quote && sql[i + 1] !== quote)) i += sql[i] === quote ? 2 : 1;
      i++;
    } else if (/^\$[A-Za-z_]*\$/.test(rest)) {
      const tag = /^\$[A-Za-z_]*\$/.exec(rest)![0];
      const end = sql.indexOf(tag, i + tag.length);
      i = end === -1 ? sql.length : end + tag.length;
    } else if (sql[i] === ";") {
      statements.push(sql.slice(start, i).trim());
      start = ++i;
    } else i++;
  }
  statements.push(sql.slice(start).trim());
  const withoutComments = (statement: string) => statement.replace(/--[^\n]*/g, "").trim();
  return statements.filter((statement) => withoutComments(statement) !== "");
}

/** Which statements of a failed migration fail, each tried under a savepoint, all rolled back. */
async function diagnose(db: PGlite, file: string, sql: string): Promise<Failure[]> {
  const failures: Failure[] = [];
  await db.exec("begin");
  try {
    for (const statement of splitStatements(sql)) {
      await db.exec("savepoint bench_statement");
      try {
        await db.exec(statement);
        await db.exec("release savepoint bench_statement");
      } catch (error) {
        await db.exec("rollback to savepoint bench_statement");
        const firstLine = statement
          .replace(/--[^\n]*/g, "")
          .replace(/\s+/g, " ")
          .trim()
          .slice(0, 90);
        failures.push({ file, statement: firstLine, error: message(error) });
      }
    }
  } finally {
    await db.exec("rollback");
  }
  return failures;
}

async function main(): Promise<void> {
  const started = performance.now();
  const { PGlite: PGliteClass } = (await import(pgliteUrl!)) as typeof import("@electric-sql/pglite");
  const imported = performance.now();

  const db = new PGliteClass(dataDir);
  await db.waitReady;
  const opened = performance.now();

  await db.exec(
    "create table if not exists schema_migrations (version text primary key, checksum text not null, applied_at timestamptz not null default now())",
  );
  const done = new Set((await db.query<{ version: string }>("select version from schema_migrations")).rows.map((row) => row.version));
  const applied: string[] = [];
  const failures: Failure[] = [];
  const files = readdirSync(migrationsDir!)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort();
  for (const file of files) {
    const version = file.replace(/\.sql$/, "");
    if (done.has(version)) continue;
    const sql = readFileSync(join(migrationsDir!, file), "utf8");
    try {
      await db.transaction(async (tx) => {
        await tx.exec(sql);
        await tx.query("insert into schema_migrations (version, checksum) values ($1, $2)", [version, createHash("sha256").update(sql).digest("hex")]);
      });
      applied.push(version);
    } catch (error) {
      const found = await diagnose(db, file, sql);
      failures.push(...(found.length ? found : [{ file, statement: "(whole file)", error: message(error) }]));
    }
  }
  // A failed migration is reported by the parent; the insert/select then uses a trivial table.
  const fallback = failures.length > 0;
  if (fallback) await db.exec("create table if not exists bench_fallback (id text primary key, name text not null)");
  const migrated = performance.now();

  const table = fallback ? "bench_fallback" : "users";
  const id = randomBytes(8).toString("hex");
  await db.query(`insert into ${table} (id, name) values ($1, $2)`, [id, `bench-${id}`]);
  const selected = await db.query<{ name: string }>(`select name from ${table} where id = $1`, [id]);
  if (selected.rows[0]?.name !== `bench-${id}`) throw new Error("the row just inserted was not read back");
  const queried = performance.now();

  const version = (await db.query<{ version: string }>("select version()")).rows[0]?.version ?? "?";
  print({
    ok: true,
    postgres: version,
    importMs: imported - started,
    openMs: opened - imported,
    migrateMs: migrated - opened,
    queryMs: queried - migrated,
    applied,
    failures,
    fallback,
  });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "close") break;
  const closing = performance.now();
  await db.close();
  print({ closeMs: performance.now() - closing });
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    print({ ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exit(1);
  },
);
