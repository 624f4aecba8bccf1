// Start-up: the control plane's database. DATABASE_URL when set (Kubernetes, replicas
// sharing one PostgreSQL), else the embedded server in the data dir, started (or adopted,
// when a killed control plane left it running) in processes of its own.
import type pg from "pg";
import type { Logger } from "pino";
import type { Settings } from "../config/settings.ts";
import { ensureDbAccount } from "../db/account.ts";
import { locatePgBinaries } from "../db/binaries.ts";
import { EmbeddedPostgres } from "../db/embedded.ts";
import { StartupError } from "../domain/errors.ts";
import { createPool } from "../store/database.ts";

export async function openDatabase(settings: Settings, postgresDir: string, logger: Logger) {
  if (settings.databaseUrl) {
    const pool = createPool({ connectionString: settings.databaseUrl });
    await pool.query("select 1").catch((error) => {
      throw new StartupError(`cannot reach DATABASE_URL: ${(error as Error).message}`, "check DATABASE_URL, or unset it to use the embedded database");
    });
    return { pool, listenConnection: { connectionString: settings.databaseUrl } as pg.ClientConfig, database: { kind: "external" as const } };
  }
  const server = new EmbeddedPostgres({
    dir: postgresDir,
    binaries: locatePgBinaries(settings.pgBin),
    account: ensureDbAccount(),
    log: (message) => logger.info(message),
  });
  const outcome = await server.start();
  await server.ensureDatabase("outpost");
  const connection = server.connectionFor("outpost");
  return { pool: createPool(connection), listenConnection: connection, database: { kind: "embedded" as const, outcome, server } };
}
