import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { dataPaths, ensureDataDir, loadSecretKey, writePrivateFile } from "./config/data-dir.ts";
import type { Settings } from "./config/settings.ts";
import { SecretBox } from "./crypto/secrets.ts";
import { runningAsRoot } from "./db/account.ts";
import type { EmbeddedPostgres, StartOutcome } from "./db/embedded.ts";
import { createLogger } from "./logger.ts";
import { ensureAdminToken } from "./startup/admin.ts";
import { openDatabase } from "./startup/database.ts";
import type { EgressRuntime } from "./startup/egress.ts";
import type { GitRuntime } from "./startup/git.ts";
import { listen } from "./startup/listen.ts";
import { readiness } from "./startup/readiness.ts";
import type { RuntimeAvailability, SandboxRuntime } from "./startup/sandboxes.ts";
import { refuseSecondServer } from "./startup/single-server.ts";
import { migrate } from "./store/migrate.ts";
import { VERSION } from "./version.ts";

export interface RunningServer {
  url: string;
  loginUrl: string;
  app: FastifyInstance;
  pool: pg.Pool;
  sandboxes: SandboxRuntime;
  egress: EgressRuntime;
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
  /** How long a request waits for a sandbox it woke from an idle stop (ms; default 2 minutes). */
  wakeTimeoutMs?: number;
  /** Egress recorder timings (tests shorten them). */
  egress?: { flushMs?: number; allowedEventWindowMs?: number };
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
  const [
    { buildApp },
    { createSandboxRuntime },
    { createEgressRuntime, createMetricsRegistry },
    { AuthService },
    { EventHub },
    { ProjectService },
    { VariableService },
    { ProjectChanges },
    { createPreviewRuntime },
    { createRunRuntime, prepareAgentsDir },
    { createGitRuntime, lateRepositoryStage, withGitEnvironment },
    { createDatabaseRuntime },
    { combineTurnHooks, databaseEndpointOf, databaseTurnHooks, lateDatabaseStage, withDatabaseEnvironment },
    { createEnvironmentRuntime, lateEnvironmentStage, maintenanceStage },
  ] = await Promise.all([
    import("./api/app.ts"),
    import("./startup/sandboxes.ts"),
    import("./startup/egress.ts"),
    import("./services/auth.ts"),
    import("./services/event-hub.ts"),
    import("./services/projects.ts"),
    import("./services/variables.ts"),
    import("./services/project-changes.ts"),
    import("./startup/previews.ts"),
    import("./startup/runs.ts"),
    import("./startup/git.ts"),
    import("./startup/databases.ts"),
    import("./startup/database-stage.ts"),
    import("./startup/environments.ts"),
  ]);
  return {
    buildApp,
    createSandboxRuntime,
    createEgressRuntime,
    createMetricsRegistry,
    AuthService,
    EventHub,
    ProjectService,
    VariableService,
    ProjectChanges,
    createPreviewRuntime,
    createRunRuntime,
    prepareAgentsDir,
    createGitRuntime,
    lateRepositoryStage,
    withGitEnvironment,
    createDatabaseRuntime,
    databaseEndpointOf,
    lateDatabaseStage,
    withDatabaseEnvironment,
    databaseTurnHooks,
    combineTurnHooks,
    createEnvironmentRuntime,
    lateEnvironmentStage,
    maintenanceStage,
  };
}

export async function startServer(settings: Settings, options: StartOptions = {}): Promise<RunningServer> {
  const logger = options.logger ?? createLogger(settings.logLevel);
  const paths = dataPaths(settings.dataDir);
  ensureDataDir(settings.dataDir, runningAsRoot());
  refuseSecondServer(paths.serverInfo);
  const secretKey = loadSecretKey(settings.dataDir, settings.secretKey);
  const secrets = new SecretBox(secretKey);

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

    const {
      buildApp,
      createSandboxRuntime,
      createEgressRuntime,
      createMetricsRegistry,
      AuthService,
      EventHub,
      ProjectService,
      VariableService,
      ProjectChanges,
      createPreviewRuntime,
      createRunRuntime,
      prepareAgentsDir,
      createGitRuntime,
      lateRepositoryStage,
      withGitEnvironment,
      createDatabaseRuntime,
      databaseEndpointOf,
      lateDatabaseStage,
      withDatabaseEnvironment,
      databaseTurnHooks,
      combineTurnHooks,
      createEnvironmentRuntime,
      lateEnvironmentStage,
      maintenanceStage,
    } = await importing;
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

    const changes = new ProjectChanges();
    const projects = new ProjectService(pool, secrets, changes, { defaultDatabase: settings.databaseProvisioner === "none" ? "none" : "postgres" });
    const variables = new VariableService(pool, secrets, changes);
    // Project databases: made before the sandboxes (a sandbox's start makes its database first).
    const databases = createDatabaseRuntime({ pool, settings, secrets, logger, projects });
    cleanups.push(() => databases.stop());
    const metrics = createMetricsRegistry();
    const egress = createEgressRuntime({
      pool,
      settings,
      secrets,
      variables,
      changes,
      onEvents: (listener) => hub.subscribe(listener),
      databaseEndpoint: databaseEndpointOf(() => databases.service),
      metrics,
      logger,
      ...options.egress,
    });
    cleanups.push(() => egress.stop());
    const sandboxLimits = { cpus: settings.sandboxCpus, memoryBytes: settings.sandboxMemoryMb * 1024 * 1024, pids: settings.sandboxPids };
    const sandboxCapacity = { maxSandboxes: settings.maxSandboxes, maxMemoryBytes: settings.maxSandboxMemoryMb * 1024 * 1024 };
    // Environments: what a project's sandboxes start from (their image and its setup).
    const environments = createEnvironmentRuntime({
      pool,
      settings,
      egress,
      logger,
      layersInUse: async () => {
        const driver = sandboxes.driver as { imageLayersInUse?: () => Promise<string[]> };
        return (await driver.imageLayersInUse?.()) ?? [];
      },
      sandboxDriver: () => sandboxes?.driver,
      limits: sandboxLimits,
      capacity: sandboxCapacity,
      poolCheckMs: settings.poolCheckMs,
    });
    projects.useEnvironments(environments.service);
    cleanups.push(() => environments.stop());
    // Made before any sandbox starts: every sandbox binds it at /opt/agents.
    const agentsDir = prepareAgentsDir(settings);
    // What commands in a sandbox get: git's environment, the database's login, then the project's own variables.
    const commandVariables = withDatabaseEnvironment(
      () => databases.service,
      withGitEnvironment(pool, (projectId) => variables.forCommands(projectId)),
    );
    let git: GitRuntime | undefined;
    // OUTPOST_DRIVER=kubernetes: sandboxes are StatefulSets (the client is loaded only then).
    const kubernetes = settings.kubernetes;
    const substrate =
      settings.driver === "kubernetes" && kubernetes
        ? await (await import("./startup/kubernetes.ts")).createKubernetesDriver({
            settings: { ...settings, kubernetes },
            secretKey,
            egress,
            stopGraceMs: options.sandboxStopGraceMs,
            logger,
          })
        : undefined;
    const sandboxes = createSandboxRuntime({
      driver: substrate?.driver,
      driverDetail: substrate?.detail,
      pool,
      projectVariables: commandVariables,
      preparers: [
        lateEnvironmentStage(() => environments.service),
        ...(databases.provisioner ? [lateDatabaseStage(() => databases.service)] : []),
        lateRepositoryStage(
          () => git,
          pool,
          (projectId, repoUrl) => egress.deployKeys.pinHostKeys(projectId, repoUrl),
        ),
        maintenanceStage(
          () => environments.service,
          () => sandboxes.driver,
          (projectId) => commandVariables(projectId),
        ),
      ],
      egress: egress.endpoint,
      agentsDir,
      dataDir: settings.dataDir,
      bwrapPath: settings.bwrapPath,
      limits: sandboxLimits,
      capacity: sandboxCapacity,
      warmPool: () => environments.pool,
      logger,
      resyncMs: options.sandboxResyncMs,
      stopGraceMs: options.sandboxStopGraceMs,
      idle: { checkMs: settings.idleCheckMs, wakeTimeoutMs: options.wakeTimeoutMs },
    });
    // Checked while the rest starts (a trial bwrap), so it is known before the banner prints.
    const sandboxCheck = sandboxes
      .availability()
      .catch((error: Error): RuntimeAvailability => ({ ok: false, problem: error.message, cause: "PREFLIGHT_FAILED" }));
    // Stopping the reconciler leaves sandboxes running: they outlive the control plane.
    cleanups.push(() => sandboxes.stop());

    let url = "";
    const publicUrl = () => settings.publicUrl?.replace(/\/$/, "") ?? url;
    git = createGitRuntime({
      pool,
      dataDir: settings.dataDir,
      sandboxes,
      variables,
      projectVariables: commandVariables,
      githubApiUrl: settings.githubApiUrl,
      publicUrl,
      logger,
    });
    const runs = createRunRuntime({
      pool,
      agentsDir,
      agentVersions: settings.agentVersions,
      sandboxes,
      projects,
      projectVariables: commandVariables,
      turns: combineTurnHooks(
        (obj, msg) => logger.warn(obj, msg),
        git.turns,
        databaseTurnHooks(() => databases.service),
      ),
      listenConnection,
      logger,
    });
    cleanups.push(() => runs.stop());

    const previews = createPreviewRuntime({ pool, sandboxes, auth, domain: settings.previewDomain, publicUrl, logger });
    const app = await buildApp({
      logger,
      pool,
      auth,
      projects,
      hub,
      version: VERSION,
      publicUrl,
      eventsSafetyPollMs: options.eventsSafetyPollMs,
      metrics,
      serverFactory: previews.serverFactory,
      extraRoutes: (instance) => {
        sandboxes.routes(instance);
        egress.routes(instance);
        previews.routes(instance);
        runs.routes(instance);
        git?.routes(instance);
        databases.routes(instance);
        environments.routes(instance);
      },
      isReady: () => readiness(pool),
    });
    cleanups.push(() => app.close());
    stopIfCancelled();

    url = await listen(app, settings);
    writePrivateFile(paths.serverInfo, `${JSON.stringify({ url: publicUrl(), pid: process.pid, version: VERSION })}\n`);

    // The project databases' server first: sandboxes adopted now may connect at once.
    await databases.start();
    await environments.start();
    await sandboxes.start();
    await environments.startPool();
    await runs.start();
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
      egress,
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
