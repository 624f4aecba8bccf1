// The control plane's connection to its state: a node-postgres pool on either the embedded
// server or DATABASE_URL, plus the transaction helper every repository uses.
import pg from "pg";
import { OutpostError } from "../domain/errors.ts";

export type Queryable = Pick<pg.PoolClient, "query">;

// bigint columns (event ids, seq) fit in a JS number for any realistic lifetime.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function createPool(config: pg.PoolConfig): pg.Pool {
  const pool = new pg.Pool({ max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000, ...config });
  // An idle client losing its server (database restarted) must not crash the process.
  pool.on("error", () => {});
  return pool;
}

export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect().catch((error) => {
    throw translatePgError(error);
  });
  try {
    await client.query("begin");
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw translatePgError(error);
  } finally {
    client.release();
  }
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ENOENT", "ECONNRESET", "ETIMEDOUT", "57P01", "57P02", "57P03", "08000", "08003", "08006"]);

/** Database outages become DATABASE_UNAVAILABLE (503); everything else passes through. */
export function translatePgError(error: unknown): unknown {
  if (error instanceof OutpostError) return error;
  const code = (error as { code?: string }).code;
  const message = (error as Error).message ?? "";
  if ((code && CONNECTION_CODES.has(code)) || /Connection terminated|timeout exceeded when trying to connect/.test(message)) {
    return new OutpostError("DATABASE_UNAVAILABLE", "The database is not reachable right now; try again shortly.", { cause: error });
  }
  // Class 22 is "data exception" (e.g. a byte sequence PostgreSQL cannot store): the
  // input's fault, whatever validation let it through.
  if (code?.startsWith("22")) {
    return new OutpostError("VALIDATION_FAILED", "The database refused a value in this request as invalid.", { details: { sqlstate: code }, cause: error });
  }
  return error;
}
