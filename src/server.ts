// Starts the control plane: data dir → database (embedded or DATABASE_URL) → migrations →
// admin credentials → HTTP. Returns a handle whose close() undoes it in reverse order.
// Start-up time is mostly this process loading its modules (fastify, zod, the routes: a few
// hundred ms of CPU), so only what opening the database needs is imported statically: the
// embedded PostgreSQL starts first, in processes of its own (another core), and the rest is
// imported while it does (a separate chunk of dist/, see scripts/build.mjs).
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { dataPaths, ensureDataDir, loadSecretKey, writePrivateFile } from "./config/data-dir.ts";
import type { Settings } from "./config/settings.ts";
import { SecretBox } from "./crypto/secrets.ts";
import { ensureDbAccount, runningAsRoot } from "./db/account.ts";
import { locatePgBinaries } from "./db/binaries.ts";
import { EmbeddedPostgres, type StartOutcome } from "./db/embedded.ts";
import { StartupError } from "./domain/errors.ts";
import { createLogger } from "./logger.ts";
import type { RuntimeAvailability, SandboxRuntime } from "./sandbox-runtime.ts";
import type { AuthService, User } from "./services/auth.ts";
import { createPool } from "./store/database.ts";
import { migrate, migrationsApplied } from "./store/migrate.ts";
import { VERSION } from "./version.ts";

export interface RunningServer {
  url: string;
  loginUrl: string;
  app: FastifyInstance;
  pool: pg.Pool;
  sandboxes: SandboxRuntime;
  /** Whether this host could run sandboxes at start (the banner says so, with the fix). */
  sandboxAvailability: RuntimeAvailability;
  database: { kind: "embedded"; outcome: StartOutcome; server: EmbeddedPostgres } | { kind: "external" };
  /** Graceful shutdown; `stopDatabase: false` leaves the embedded server running. */
  close(options?: { stopDatabase?: boolean }): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Aborted (by `outpost serve` on SIGTERM/SIGINT) to give up a start midway: what has
   *  started is stopped, the embedded database included, and StartCancelled is thrown. */
  signal?: AbortSignal;
  eventsSafetyPollMs?: number;
  /** Reconciler re-check interval and stop grace (tests shorten them). */
  sandboxResyncMs?: number;
  sandboxStopGraceMs?: number;
}

/** startServer gave up because its `signal` was aborted; everything it started is stopped. */
export class StartCancelled extends Error {
  constructor(reason: unknown) {
    super(`start-up cancelled (${String(reason)})`);
    this.name = "StartCancelled";
  }
}

/** The modules only needed once the database is up (the HTTP side, services, sandboxes). */
async function importTheRest() {
  const [{ buildApp }, { createSandboxRuntime }, { AuthService }, { EventHub }, { ProjectService }] = await Promise.all([
    import("./api/app.ts"),
    import("./sandbox-runtime.ts"),
    import("./services/auth.ts"),
    import("./services/event-hub.ts"),
    import("./services/projects.ts"),
  ]);
  return { buildApp, createSandboxRuntime, AuthService, EventHub, ProjectService };
}

export async function startServer(settings: Settings, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const paths = dataPaths(settings.dataDir);
  ensureDataDir(settings.dataDir, runningAsRoot());
  refuseSecondServer(paths.serverInfo);
  const secrets = new SecretBox(loadSecretKey(settings.dataDir, settings.secretKey));

  const cleanups: (() => Promise<void>)[] = [];
  // A failed start stops a database it started; close() may choose to leave it running.
  let stopDatabaseOnClose = true;
  const closeAll = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => logger.warn({ err: error }, "shutdown step failed"));
  };

  // Checked after every step that waits: a step under way (initdb, pg_ctl start) is let
  // finish, so that what it started can be stopped.
  const stopIfCancelled = () => {
    if (options.signal?.aborted) throw new StartCancelled(options.signal.reason);
  };

  try {
    stopIfCancelled();
    // The database's processes start first; the modules load meanwhile (see the top).
    const opening = openDatabase(settings, paths.postgres, logger);
    const importing = importTheRest();
    // Awaited below, after the database: a failure meanwhile must not count as unhandled.
    importing.catch(() => {});
    const { pool, listenConnection, database } = await opening;
    // A start that fails after adopting a running database leaves it as it found it.
    stopDatabaseOnClose = database.kind === "embedded" && database.outcome === "started";
    cleanups.push(async () => {
      if (database.kind === "embedded" && stopDatabaseOnClose) await database.server.stop();
    });
    cleanups.push(() => pool.end());
    stopIfCancelled();

    const { buildApp, createSandboxRuntime, AuthService, EventHub, ProjectService } = await importing;
    const applied = await migrate(pool);
    if (applied.length) logger.info({ applied }, "applied database migrations");
    stopIfCancelled();

    const auth = new AuthService(pool);
    const admin = await auth.ensureAdmin();
    await ensureAdminToken(auth, admin, settings, paths.adminToken, database.kind);

    const hub = new EventHub({ connection: listenConnection, log: logger });
    await hub.start();
    cleanups.push(() => hub.close());
    stopIfCancelled();

    const projects = new ProjectService(pool, secrets);
    const sandboxes = createSandboxRuntime({
      pool,
      projectEnvironment: (projectId) => projects.environment(projectId),
      dataDir: settings.dataDir,
      bwrapPath: settings.bwrapPath,
      limits: { cpus: settings.sandboxCpus, memoryBytes: settings.sandboxMemoryMb * 1024 * 1024, pids: settings.sandboxPids },
      capacity: { maxSandboxes: settings.maxSandboxes, maxMemoryBytes: settings.maxSandboxMemoryMb * 1024 * 1024 },
      logger,
      resyncMs: options.sandboxResyncMs,
      stopGraceMs: options.sandboxStopGraceMs,
    });
    // Checked while the rest starts (a trial bwrap), so it is known before the banner prints.
    const sandboxCheck = sandboxes
      .availability()
      .catch((error: Error): RuntimeAvailability => ({ ok: false, problem: error.message, cause: "PREFLIGHT_FAILED" }));
    // Stopping the reconciler leaves sandboxes running: they outlive the control plane.
    cleanups.push(() => sandboxes.stop());

    let url = "";
    const publicUrl = () => settings.publicUrl?.replace(/\/$/, "") ?? url;
    const app = await buildApp({
      logger,
      pool,
      auth,
      projects,
      hub,
      version: VERSION,
      publicUrl,
      eventsSafetyPollMs: options.eventsSafetyPollMs,
      extraRoutes: (instance) => sandboxes.routes(instance),
      isReady: async () => {
        const databaseUp = await pool
          .query("select 1")
          .then(() => true)
          .catch(() => false);
        const migrated = databaseUp && (await migrationsApplied(pool));
        return { ready: databaseUp && migrated, checks: { database: databaseUp, migrations: migrated } };
      },
    });
    cleanups.push(() => app.close());
    stopIfCancelled();

    try {
      await app.listen({ host: settings.host, port: settings.port });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "EADDRINUSE")
        throw new StartupError(`port ${settings.port} on ${settings.host} is already in use`, "set OUTPOST_PORT to a free port, e.g. OUTPOST_PORT=7301");
      if (code === "EADDRNOTAVAIL") throw new StartupError(`cannot bind to ${settings.host}`, "set OUTPOST_HOST to an address of this machine, e.g. 127.0.0.1");
      throw error;
    }
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : settings.port;
    const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host;
    url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    writePrivateFile(paths.serverInfo, `${JSON.stringify({ url: publicUrl(), pid: process.pid, version: VERSION })}\n`);

    await sandboxes.start();
    const sandboxAvailability = await sandboxCheck;
    if (!sandboxAvailability.ok) logger.warn({ problem: sandboxAvailability.problem, fix: sandboxAvailability.fix }, "sandboxes cannot run on this host");
    const loginUrl = `${publicUrl()}/login?code=${await auth.createLoginCode(admin)}`;
    // A signal from here on finds serve() waiting for it, which calls close().
    stopIfCancelled();
    return {
      url: publicUrl(),
      loginUrl,
      app,
      pool,
      sandboxes,
      sandboxAvailability,
      database,
      async close(closeOptions = {}) {
        stopDatabaseOnClose = database.kind === "embedded" && (closeOptions.stopDatabase ?? true);
        await closeAll();
      },
    };
  } catch (error) {
    // Cancelled is a graceful stop, which stops the database even when it was adopted
    // (close() does the same); a failed start leaves an adopted one running.
    if (error instanceof StartCancelled) stopDatabaseOnClose = true;
    await closeAll();
    throw error;
  }
}

/** Two control planes on one data dir would fight over its database and sandboxes. */
function refuseSecondServer(serverInfoFile: string): void {
  let info: { pid?: number; url?: string };
  try {
    info = JSON.parse(readFileSync(serverInfoFile, "utf8"));
  } catch {
    return;
  }
  if (!info.pid || info.pid === process.pid) return;
  let commandLine = "";
  try {
    commandLine = readFileSync(`/proc/${info.pid}/cmdline`, "utf8");
  } catch {
    return; // not running (or not Linux): the file is left over from an earlier run
  }
  if (commandLine.includes("outpost") && commandLine.includes("serve")) {
    throw new StartupError(
      `Outpost is already running for this data dir (pid ${info.pid}, ${info.url ?? "unknown URL"})`,
      "stop that one first, or set OUTPOST_DATA_DIR to another folder",
    );
  }
}

async function openDatabase(settings: Settings, postgresDir: string, logger: Logger) {
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

/**
 * The admin token lives in <data dir>/admin-token for the CLI. On the embedded database a
 * missing or stale file gets a fresh token (the previous one is revoked): whoever can read
 * the data dir is the admin anyway. With DATABASE_URL several replicas share the users, so
 * a replica only adds a token and never revokes another's.
 */
async function ensureAdminToken(auth: AuthService, admin: User, settings: Settings, file: string, kind: "embedded" | "external"): Promise<void> {
  if (settings.adminToken) await auth.registerAdminToken(admin, settings.adminToken);
  let existing: string | undefined;
  try {
    existing = readFileSync(file, "utf8").trim();
  } catch {}
  if (existing && (await auth.userForToken(existing))?.id === admin.id) return;
  const token = kind === "embedded" ? await auth.rotateAdminToken(admin) : (await auth.createToken(admin, "admin")).token;
  writePrivateFile(file, `${token}\n`);
}
