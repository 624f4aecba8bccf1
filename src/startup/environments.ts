// Start-up, environments (issue 20): the image store and the setup builder (root only: images
// need a user namespace of two ids and idmapped mounts), the EnvironmentService, the
// `environment` stage (before the driver's: it decides the sandbox's image, building it when
// needed) and the `maintenance` stage (after the repository: the script of every start).
// Part of the one composition root (src/startup/, called by server.ts).
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { environmentRoutes } from "../api/routes/environments.ts";
import type { Settings } from "../config/settings.ts";
import type { Capacity } from "../domain/capacity.ts";
import type { Driver, EgressEndpoint, SandboxLimits } from "../drivers/driver.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { resolveOutpostDir } from "../drivers/local/outpost-dir.ts";
import { packageRoot } from "../package-root.ts";
import type { SandboxPreparer } from "../reconciler/sandbox-kind.ts";
import type { EgressService } from "../services/egress.ts";
import { EnvironmentBuilder } from "../services/environments/builder.ts";
import { EnvironmentService } from "../services/environments/environments.ts";
import { ImageStore } from "../services/environments/images.ts";
import { type PoolDriver, WarmPool } from "../services/environments/pool.ts";
import { runScript } from "../services/environments/run-script.ts";
import type { CommandVariables } from "../services/variables.ts";
import { failUnfinishedBuilds } from "../store/environments.ts";

export const ENVIRONMENT_STAGE = "environment";
export const MAINTENANCE_STAGE = "maintenance";

export interface EnvironmentRuntime {
  service: EnvironmentService;
  /** The warm pools of every environment with a poolSize. */
  pool: WarmPool;
  /** Starts keeping the warm pools (after the sandboxes' runtime has started). */
  startPool(): Promise<void>;
  routes(app: FastifyInstance): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function environmentPaths(dataDir: string) {
  const root = join(dataDir, "environments");
  return { root, images: join(root, "images"), layers: join(root, "layers"), builds: join(root, "builds") };
}

export function createEnvironmentRuntime(options: {
  pool: pg.Pool;
  settings: Settings;
  egress: { endpoint: EgressEndpoint; service: EgressService };
  logger: Logger;
  /** Whether images can be made here (root); default: whether this process is root. */
  canBuildImages?: boolean;
  /** Image layers sandboxes were started on (the sandbox driver's; bound late). */
  layersInUse?: () => Promise<string[]>;
  /** How often unused images and layers are collected (ms); default hourly. */
  collectEveryMs?: number;
  /** The sandbox driver, for the warm pool (bound late). */
  sandboxDriver?: () => PoolDriver | undefined;
  limits?: SandboxLimits;
  capacity?: Capacity;
  /** How often the warm pools are topped up (ms). */
  poolCheckMs?: number;
}): EnvironmentRuntime {
  const log = options.logger.child({ component: "environments" });
  const began = new Date();
  const { settings } = options;
  const paths = environmentPaths(settings.dataDir);
  const root = options.canBuildImages ?? process.getuid?.() === 0;
  let buildDriver: LocalDriver | undefined;
  let builder: EnvironmentBuilder | null = null;
  if (root) {
    // A driver of its own for build sandboxes: its root is not the sandboxes', so the
    // reconciler never takes a build for an orphan, and its uid claims are its own.
    buildDriver = new LocalDriver({
      root: paths.builds,
      outpostDir: (owner) => resolveOutpostDir({ packageRoot: packageRoot(), dataDir: settings.dataDir, sandboxOwner: owner }),
      bwrapPath: settings.bwrapPath,
      egress: options.egress.endpoint,
      log: (message) => log.debug(message),
    });
    const drv = buildDriver;
    builder = new EnvironmentBuilder({
      images: new ImageStore({
        dir: paths.images,
        importDir: settings.imageImportDir ?? join(settings.dataDir, "image-imports"),
        debianMirror: settings.debianMirror,
        debianCacheDir: settings.debianRootCache,
      }),
      layersDir: paths.layers,
      limits: options.limits,
      sandboxes: {
        ensure: (spec, ensureOptions) => drv.ensure(spec, ensureOptions),
        stop: (id, stopOptions) => drv.stop(id, stopOptions),
        remove: (id, removeOptions) => drv.remove(id, removeOptions),
        list: () => drv.list(),
        takeWritableLayer: (id, target) => drv.takeWritableLayer(id, target),
      },
      egress: { allowBuild: (id, policy) => options.egress.service.allowBuild(id, policy) },
    });
  }
  const service = new EnvironmentService(options.pool, builder);
  const warmPool = new WarmPool({
    pool: options.pool,
    environments: service,
    driver: () => options.sandboxDriver?.(),
    limits: options.limits,
    capacity: options.capacity,
    log,
    checkMs: options.poolCheckMs,
  });
  let collector: NodeJS.Timeout | undefined;
  const collect = async () => {
    const inUse = [...((await options.layersInUse?.()) ?? []), ...((await buildDriver?.imageLayersInUse()) ?? [])];
    const removed = await service.collectGarbage(inUse);
    if (removed.length) log.info({ removed }, "removed images and layers no environment or sandbox uses");
  };
  return {
    service,
    pool: warmPool,
    async startPool() {
      await warmPool.start().catch((error: Error) => log.warn({ err: error }, "the warm pool did not start"));
    },
    routes(app) {
      environmentRoutes(app, service);
    },
    async start() {
      const failed = await failUnfinishedBuilds(options.pool, began);
      if (failed) log.warn({ failed }, "builds cut short by the last stop are marked failed");
      await buildDriver?.start();
      if (builder) {
        void collect().catch((error: Error) => log.warn({ err: error }, "collecting unused images failed"));
        collector = setInterval(
          () => void collect().catch((error: Error) => log.warn({ err: error }, "collecting unused images failed")),
          options.collectEveryMs ?? 3600_000,
        );
        collector.unref();
      }
    },
    async stop() {
      clearInterval(collector);
      await warmPool.stop();
      await buildDriver?.close();
    },
  };
}

/** The `environment` stage: the project's environment's layers, built when missing (bound late). */
export function lateEnvironmentStage(get: () => EnvironmentService | undefined): SandboxPreparer {
  return {
    stage: ENVIRONMENT_STAGE,
    when: "before",
    async run(sandbox, progress, signal) {
      const environments = get();
      if (!environments) return "none: the host's /usr";
      const prepared = await environments.forSandbox(sandbox.projectId, progress, signal);
      return { summary: prepared.summary, ...(prepared.image ? { spec: { image: prepared.image } } : {}) };
    },
  };
}

/** The `maintenance` stage: the environment's maintenance script, as root in /workspace, with the project's variables. */
export function maintenanceStage(
  get: () => EnvironmentService | undefined,
  driver: () => Pick<Driver, "connect">,
  projectVariables: (projectId: string) => Promise<CommandVariables>,
): SandboxPreparer {
  return {
    stage: MAINTENANCE_STAGE,
    when: "after",
    async run(sandbox, progress, signal) {
      const maintenance = await get()?.maintenanceOf(sandbox.projectId);
      if (!maintenance) return "none";
      const [{ client }, variables] = await Promise.all([driver().connect(sandbox.id, { signal }), projectVariables(sandbox.projectId)]);
      let tail = "";
      const ended = await runScript(client, {
        script: maintenance.script,
        env: variables.env,
        user: maintenance.user,
        cwd: "/workspace",
        timeoutMs: 30 * 60_000,
        signal,
        output: (text) => {
          tail = (tail + text).slice(-2000);
          const line = text.trim().split("\n").pop();
          if (line) progress(line.slice(0, 300));
        },
      });
      if (ended.exitCode !== 0)
        throw new Error(
          `the maintenance script ${ended.timedOut ? "timed out" : `exited with ${ended.exitCode ?? ended.signal}`}: ${tail.trim().split("\n").slice(-3).join(" | ")}`,
        );
      return "done";
    },
  };
}
