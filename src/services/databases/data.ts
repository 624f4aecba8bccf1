// The data side of project databases in one piece, for the composition root: dumps and
// restores (host pg_dump/psql), tables and the read-only query, branches.
import type pg from "pg";
import type { SecretBox } from "../../crypto/secrets.ts";
import { DatabaseBranches } from "./branches.ts";
import { DatabaseBrowser } from "./browse.ts";
import { DatabaseAccess } from "./data-access.ts";
import { DatabaseDumps, PgClientTools } from "./dump.ts";
import type { Provisioner } from "./provisioner.ts";

export interface DatabaseData {
  dumps: DatabaseDumps;
  browser: DatabaseBrowser;
  branches: DatabaseBranches;
}

export function createDatabaseData(options: {
  pool: pg.Pool;
  secrets: SecretBox;
  provisioner: Provisioner | null;
  /** OUTPOST_PG_CLIENT_BIN: the bin/ folder of the pg_dump and psql to use. */
  clientBin?: string;
  /** The same limits the DatabaseService gives a project's role (branches get them too). */
  connectionLimit?: number;
  statementTimeoutMs?: number;
}): DatabaseData {
  const access = new DatabaseAccess(options.pool, options.secrets, options.provisioner);
  return {
    dumps: new DatabaseDumps(access, new PgClientTools({ clientBin: options.clientBin })),
    browser: new DatabaseBrowser(access),
    branches: new DatabaseBranches(access, { connectionLimit: options.connectionLimit, statementTimeoutMs: options.statementTimeoutMs }),
  };
}
