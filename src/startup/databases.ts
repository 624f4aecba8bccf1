// Start-up, project databases: the provisioner chosen by OUTPOST_DATABASE_PROVISIONER, the
// DatabaseService over it (the `database` stage and the sandboxes' logins bind to it late:
// startup/database-stage.ts), its routes, and the project delete's question (keep or drop).
// Part of the one composition root (src/startup/, called by server.ts).
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { databaseDataRoutes } from "../api/routes/database-data.ts";
import { databaseRoutes } from "../api/routes/databases.ts";
import type { Settings } from "../config/settings.ts";
import type { SecretBox } from "../crypto/secrets.ts";
import { createDatabaseData } from "../services/databases/data.ts";
import { DatabaseService } from "../services/databases/databases.ts";
import type { Provisioner } from "../services/databases/provisioner.ts";
import type { ProjectService } from "../services/projects.ts";
import { createProvisioner } from "./database-provisioner.ts";

export interface DatabaseRuntime {
  service: DatabaseService;
  /** Null: OUTPOST_DATABASE_PROVISIONER=none. */
  provisioner: Provisioner | null;
  routes(app: FastifyInstance): void;
  /** Starts (or adopts) the provisioner's server; a failure is logged, and each database operation says it again. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createDatabaseRuntime(options: {
  pool: pg.Pool;
  settings: Settings;
  secrets: SecretBox;
  logger: Logger;
  /** Its delete asks what happens to a project's database (keep or drop). */
  projects?: ProjectService;
  /** Instead of the one the settings choose (tests). */
  provisioner?: Provisioner | null;
}): DatabaseRuntime {
  const log = options.logger.child({ component: "databases" });
  const provisioner = options.provisioner !== undefined ? options.provisioner : createProvisioner(options.settings, log);
  const service = new DatabaseService(options.pool, options.secrets, provisioner, { log: (message) => log.info(message) });
  options.projects?.useDatabases(service);
  return {
    service,
    provisioner,
    routes(app) {
      databaseRoutes(app, service);
      databaseDataRoutes(app, createDatabaseData({ pool: options.pool, secrets: options.secrets, provisioner, clientBin: options.settings.pgClientBin }));
    },
    async start() {
      const startable = provisioner as (Provisioner & { start?: () => Promise<void> }) | null;
      await startable?.start?.().catch((error: Error) => log.warn({ err: error }, "the project databases' server did not start"));
    },
    async stop() {
      await provisioner?.close();
    },
  };
}
