// Looking into a project's database from the outside (the UI's Database panel): its tables
// with row counts, and one read-only query. Both connect as the project's own role over the
// provisioner's endpoint (never as an admin), so they see exactly what the sandbox sees.
//
// The query box is read-only by construction, not by inspecting the SQL: the statement runs
// inside a transaction made READ ONLY (which a statement cannot turn back), sent with the
// extended protocol (which takes one statement: no `COMMIT; DELETE …`), with a 5 s
// statement_timeout, on a connection of its own that is closed afterwards without a commit.
// Rows are fetched in small batches and only until the answer's bounds (500 rows, 1 MiB).
import pg from "pg";
import type { Principal } from "../../domain/authorization.ts";
import { OutpostError } from "../../domain/errors.ts";
import { connectionFailure, type DatabaseAccess, type ProjectDatabase } from "./data-access.ts";

export const QUERY_TIMEOUT_MS = 5_000;
export const QUERY_MAX_ROWS = 500;
export const QUERY_MAX_BYTES = 1024 * 1024;
/** One value longer than this is cut (the answer says so), so one huge cell cannot fill it. */
export const CELL_MAX_CHARS = 64 * 1024;
const BATCH_ROWS = 50;
const TABLES_MAX = 1000;
/** Tables up to this size are counted exactly; bigger ones show the planner's estimate. */
const COUNT_MAX_BYTES = 8 * 1024 * 1024;
const COUNT_MAX_TABLES = 200;
/** The client gives up this long after the server's own timeout should have fired. */
const CLIENT_GRACE_MS = 5_000;

export interface TableInfo {
  schema: string;
  name: string;
  /** Counted when the table is small; otherwise the planner's estimate (null: never analysed). */
  rows: number | null;
  exact: boolean;
  sizeBytes: number;
}

export interface QueryColumn {
  name: string;
  /** The type's name (`int4`, `text`, …). */
  type: string;
}

export interface QueryAnswer {
  columns: QueryColumn[];
  /** Every value as PostgreSQL prints it (text), or null. */
  rows: (string | null)[][];
  /** True when rows (or a value) were left out to stay within the bounds. */
  truncated: boolean;
  /** The statement's tag, e.g. `SELECT`. */
  command: string | null;
  durationMs: number;
}

/** Values as text: no precision lost (int8, numeric), no dates moved into this host's zone. */
const AS_TEXT = { getTypeParser: () => (value: string) => value };

export class DatabaseBrowser {
  constructor(private readonly access: DatabaseAccess) {}

  /** Seeing the tables and their sizes is for whoever sees the project. */
  async tables(principal: Principal, ref: string): Promise<TableInfo[]> {
    const database = await this.access.main(principal, ref, "project.read");
    return withClient(database, this.access, async (client) => {
      await client.query(`begin transaction read only; set local statement_timeout = ${QUERY_TIMEOUT_MS}`);
      const { rows } = await client.query<{ schema: string; name: string; estimate: string; size: string }>({
        text: `select n.nspname as schema, c.relname as name, c.reltuples::bigint as estimate, pg_total_relation_size(c.oid) as size
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where c.relkind in ('r', 'p', 'm', 'f')
                  and n.nspname <> 'information_schema' and n.nspname not like 'pg\\_%'
                order by 1, 2 limit ${TABLES_MAX}`,
        types: AS_TEXT,
      });
      const tables: TableInfo[] = rows.map((row) => {
        const estimate = Number(row.estimate);
        return { schema: row.schema, name: row.name, rows: estimate < 0 ? null : estimate, exact: false, sizeBytes: Number(row.size) };
      });
      let counted = 0;
      for (const table of tables) {
        if (table.sizeBytes > COUNT_MAX_BYTES || counted >= COUNT_MAX_TABLES) continue;
        counted++;
        // A table the role may not read (or a foreign one that fails) keeps its estimate.
        await client.query("savepoint count");
        try {
          const { rows: count } = await client.query<{ n: string }>({
            text: `select count(*) as n from ${pg.escapeIdentifier(table.schema)}.${pg.escapeIdentifier(table.name)}`,
            types: AS_TEXT,
          });
          table.rows = Number(count[0]?.n ?? 0);
          table.exact = true;
          await client.query("release savepoint count");
        } catch {
          await client.query("rollback to savepoint count");
        }
      }
      return tables;
    });
  }

  /** One statement, read-only, as the project's role. Reading its data is for editors (like revealing the password). */
  async query(principal: Principal, ref: string, sql: string): Promise<QueryAnswer> {
    const database = await this.access.main(principal, ref, "project.env.reveal");
    return withClient(database, this.access, async (client) => {
      // The `select` takes the transaction's snapshot: from then on not even SET TRANSACTION
      // READ WRITE can turn it back.
      await client.query(`begin transaction read only; set local statement_timeout = ${QUERY_TIMEOUT_MS}; select`);
      const started = performance.now();
      const query = new BoundedQuery(sql);
      const deadline = setTimeout(() => query.giveUp(client), QUERY_TIMEOUT_MS + CLIENT_GRACE_MS);
      let result: pg.QueryResult;
      try {
        // A submittable: client.query hands it back at once; its callback says when it is done.
        client.query(query as unknown as pg.QueryConfig);
        result = await query.done;
      } catch (error) {
        throw queryFailure(error, database.project.name);
      } finally {
        clearTimeout(deadline);
      }
      const durationMs = Math.round(performance.now() - started);
      const columns = await typeNames(client, result.fields ?? []);
      return { columns, rows: query.kept, truncated: query.truncated, command: result.command ?? null, durationMs };
    });
  }
}

/** A fresh connection as the database's role, closed afterwards (its transaction never commits). */
async function withClient<T>(database: ProjectDatabase, access: DatabaseAccess, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const connection = await access.connection(database);
  const client = new pg.Client({
    host: connection.host,
    port: connection.port,
    user: connection.user,
    database: connection.database,
    password: connection.password,
    application_name: "outpost-browse",
    connectionTimeoutMillis: 10_000,
  });
  // A connection lost midway fails the query in progress; the event must not crash the process.
  client.on("error", () => {});
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => {});
    throw connectionFailure(error, database.ref.name);
  }
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

async function typeNames(client: pg.Client, fields: pg.FieldDef[]): Promise<QueryColumn[]> {
  const oids = [...new Set(fields.map((f) => f.dataTypeID))];
  const names = new Map<number, string>();
  if (oids.length) {
    // The transaction may have failed or ended: a fresh statement outside it is fine for the catalog.
    const { rows } = await client
      .query<{ oid: number; typname: string }>("select oid::int as oid, typname from pg_type where oid = any($1::oid[])", [oids])
      .catch(() => ({ rows: [] as { oid: number; typname: string }[] }));
    for (const row of rows) names.set(row.oid, row.typname);
  }
  return fields.map((f) => ({ name: f.name, type: names.get(f.dataTypeID) ?? String(f.dataTypeID) }));
}

function queryFailure(error: unknown, project: string): OutpostError {
  if (error instanceof OutpostError) return error;
  const pgError = error as { code?: string; message?: string; position?: string };
  const message = (pgError.message ?? String(error)).slice(0, 500);
  const details = { sqlstate: pgError.code ?? null, position: pgError.position ? Number(pgError.position) : null };
  if (pgError.code === "25006") {
    return new OutpostError("DATABASE_QUERY_FAILED", `The query box is read-only: ${message}.`, {
      details,
      fix: `Change data from the sandbox instead: \`outpost db ${project} psql\`, or psql "$DATABASE_URL" there.`,
    });
  }
  if (pgError.code === "57014") {
    return new OutpostError("DATABASE_QUERY_FAILED", `The query ran longer than ${QUERY_TIMEOUT_MS / 1000} s and was cancelled.`, {
      details,
      fix: "Ask for less (a LIMIT, a WHERE on an indexed column), or run it with psql in the sandbox.",
    });
  }
  if (pgError.code === "42601" && /multiple commands/.test(message)) {
    return new OutpostError("DATABASE_QUERY_FAILED", "The query box runs one statement at a time.", {
      details,
      fix: "Send one statement, without a second after `;`.",
    });
  }
  if (pgError.code === undefined) return new OutpostError("DATABASE_SERVER_UNAVAILABLE", `The query's connection failed: ${message}`, { cause: error });
  return new OutpostError("DATABASE_QUERY_FAILED", message, { details });
}

/**
 * node-postgres's Query, fetching BATCH_ROWS at a time through a portal and stopping once the
 * answer is full: the rest of the result is never sent by the server. Values come as text
 * (AS_TEXT) and rows as arrays (duplicate column names stay apart).
 */
const QueryBase = pg.Query as unknown as new (
  config: pg.QueryConfig & { rows?: number; rowMode?: "array"; callback: (error: Error | null, result: pg.QueryResult) => void },
) => {
  handleDataRow(msg: unknown): void;
  handlePortalSuspended(connection: unknown): void;
  handleError(error: Error, connection: unknown): void;
  _getRows(connection: unknown, rows: number): void;
};

class BoundedQuery extends QueryBase {
  readonly kept: (string | null)[][] = [];
  truncated = false;
  #bytes = 0;
  /** Settles once the server is ready for the next query (the statement ended, or failed). */
  readonly done: Promise<pg.QueryResult>;

  constructor(sql: string) {
    let settle: (error: Error | null, result: pg.QueryResult) => void = () => {};
    const done = new Promise<pg.QueryResult>((resolve, reject) => {
      settle = (error, result) => (error ? reject(error) : resolve(result));
    });
    super({ text: sql, rows: BATCH_ROWS, rowMode: "array", types: AS_TEXT, callback: (error, result) => settle(error, result) });
    this.done = done;
  }

  override handleDataRow(msg: { fields: (string | null)[] }): void {
    if (this.truncated) return;
    if (this.kept.length >= QUERY_MAX_ROWS) {
      this.truncated = true;
      return;
    }
    const row = msg.fields.map((value) => {
      if (value === null) return null;
      const text = String(value);
      if (text.length <= CELL_MAX_CHARS) return text;
      this.truncated = true;
      return text.slice(0, CELL_MAX_CHARS);
    });
    const size = row.reduce((sum, value) => sum + (value === null ? 4 : value.length + 3), 2);
    if (this.#bytes + size > QUERY_MAX_BYTES) {
      this.truncated = true;
      return;
    }
    this.#bytes += size;
    this.kept.push(row);
  }

  override handlePortalSuspended(connection: { sync(): void }): void {
    // More rows wait in the portal: fetched only while the answer has room.
    if (this.truncated) connection.sync();
    else this._getRows(connection, BATCH_ROWS);
  }

  override handleError(error: Error, connection: { sync(): void } | undefined): void {
    // In portal mode nothing has sent a Sync yet: without one the server would wait for it.
    // (No connection: it is gone, and there is nothing to sync.)
    try {
      connection?.sync();
    } catch {}
    super.handleError(error, connection);
  }

  /** The server did not stop it in time: the connection goes, and with it the statement. */
  giveUp(client: pg.Client): void {
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
  }
}
