// Start-up, sandboxes: the local driver, the reconciler, the sandbox services and their
// routes, built once. Part of the one composition root (src/startup/, called by server.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { execRoutes } from "../api/routes/exec.ts";
import { fileRoutes } from "../api/routes/files.ts";
import { processRoutes } from "../api/routes/processes.ts";
import { sandboxRoutes } from "../api/routes/sandboxes.ts";
import { terminalRoutes } from "../api/routes/terminals.ts";
import { dataPaths } from "../config/data-dir.ts";
import type { Capacity } from "../domain/capacity.ts";
import { OutpostError } from "../domain/errors.ts";
import type { Driver, EgressEndpoint } from "../drivers/driver.ts";
import { LocalDriver } from "../drivers/local/local-driver.ts";
import { builtOutpostDir, resolveOutpostDir } from "../drivers/local/outpost-dir.ts";
import { checkBubblewrap, preflightOwner } from "../drivers/local/preflight.ts";
import { packageRoot } from "../package-root.ts";
import { Reconciler } from "../reconciler/reconciler.ts";
import type { SandboxPreparer } from "../reconciler/sandbox-kind.ts";
import { IdleReaper } from "../services/idle-reaper.ts";
import { SandboxActivity } from "../services/sandbox-activity.ts";
import { SandboxCommands } from "../services/sandbox-commands.ts";
import { SandboxFiles } from "../services/sandbox-files.ts";
import { SandboxWaker } from "../services/sandbox-wake.ts";
import type { WarmPoolClaims } from "../services/sandboxes.ts";
import { SandboxService } from "../services/sandboxes.ts";
import { TerminalService } from "../services/terminals.ts";
import type { CommandVariables } from "../services/variables.ts";

export interface SandboxRuntimeOptions {
  pool: pg.Pool;
  dataDir: string;
  bwrapPath?: string;
  limits?: { cpus?: number; memoryBytes?: number; pids?: number };
  /** The installation-wide cap on running sandboxes. */
  capacity?: Capacity;
  logger: Logger;
  resyncMs?: number;
  stopGraceMs?: number;
  /** The project's variables for commands in its sandboxes (and the secrets to redact). */
  projectVariables: (projectId: string) => Promise<CommandVariables>;
  /** The host side of the sandboxes' way out; absent: sandboxes have loopback only. */
  egress?: EgressEndpoint;
  /** Installed agent CLIs, bound read-only into every sandbox at /opt/agents. */
  agentsDir?: string;
  /** The control plane's own stages around the driver's (the database, the repository). */
  preparers?: SandboxPreparer[];
  /** Idle stop: how often running sandboxes are looked at, how long a request waits for a wake (ms). */
  idle?: { checkMs?: number; wakeTimeoutMs?: number };
  /** The environments' warm pool, which creates claim from (bound late). */
  warmPool?: () => WarmPoolClaims | undefined;
  /** Another substrate's driver (Kubernetes); absent: the local driver on this machine. */
  driver?: Driver;
  /** What the start-up banner says of that driver (which cluster, namespace). */
  driverDetail?: string;
}

export interface SandboxRuntime {
  service: SandboxService;
  /** Commands through a sandbox's supervisor (services built on the link use it: previews). */
  commands: SandboxCommands;
  reconciler: Reconciler;
  driver: Driver;
  /** Idle stop and wake: the activity record, the wake requests go through, the periodic reaper. */
  idle: { activity: SandboxActivity; waker: SandboxWaker; reaper: IdleReaper };
  routes(app: FastifyInstance): void;
  /** Lets the driver tidy up and accept links, then adopts what exists (reconciler); then the idle reaper. */
  start(): Promise<void>;
  /** Stops the idle reaper, the reconciler and the driver's links (sandboxes keep running). */
  stop(): Promise<void>;
  /** Whether this host can run sandboxes now, for the start-up banner (checked again until it can). */
  availability(): Promise<RuntimeAvailability>;
}

export type RuntimeAvailability = { ok: true; detail: string } | { ok: false; problem: string; fix?: string; cause: string };

export function createSandboxRuntime(options: SandboxRuntimeOptions): SandboxRuntime {
  const log = options.logger.child({ component: "sandboxes" });
  const driver: Driver = options.driver ?? localDriver(options, log);
  const reconciler = new Reconciler({
    pool: options.pool,
    driver,
    log,
    resyncMs: options.resyncMs,
    stopGraceMs: options.stopGraceMs,
    limits: options.limits,
    capacity: options.capacity,
    preparers: options.preparers,
  });

  // A host without bubblewrap still runs Outpost; creating a sandbox then says what to
  // install. A success is remembered; a failure is checked again (the user may fix it).
  let runtimeOk: RuntimeAvailability | undefined;
  const availability = async (): Promise<RuntimeAvailability> => {
    if (runtimeOk) return runtimeOk;
    // Another substrate: its pods bring their own runtime; what matters is that it answers.
    if (options.driver) {
      const probe = (options.driver as { reachable?: () => Promise<{ ok: true } | { ok: false; problem: string }> }).reachable;
      const answer = probe ? await probe.call(options.driver) : { ok: true as const };
      if (!answer.ok)
        return { ok: false, problem: answer.problem, fix: "check KUBECONFIG, that the cluster is up, and the Role", cause: "KUBERNETES_UNREACHABLE" };
      runtimeOk = { ok: true, detail: options.driverDetail ?? `${options.driver.name} driver` };
      return runtimeOk;
    }
    if (!existsSync(join(builtOutpostDir(), "supervisor.js")))
      return { ok: false, problem: "the sandbox runtime (dist/opt-outpost) is missing", fix: "npm run build", cause: "SUPERVISOR_BUNDLE_MISSING" };
    const result = await checkBubblewrap({ bwrapPath: options.bwrapPath, owner: preflightOwner() });
    if (!result.ok) {
      // Preflight messages end with "; fix: <command>"; the banner shows the fix on its own line.
      const [problem = result.error.message, fix] = result.error.message.split("; fix: ");
      return { ok: false, problem, fix, cause: result.error.code };
    }
    runtimeOk = { ok: true, detail: `bubblewrap ${result.bwrap.version}` };
    return runtimeOk;
  };
  const assertRuntimeAvailable = async () => {
    const state = await availability();
    if (state.ok) return;
    throw new OutpostError("SANDBOX_RUNTIME_UNAVAILABLE", `Sandboxes cannot run on this host: ${state.problem}${state.fix ? `; fix: ${state.fix}` : ""}`, {
      details: { cause: state.cause },
      fix: state.fix,
    });
  };

  const service = new SandboxService({
    pool: options.pool,
    driverName: driver.name === "kubernetes" ? "kubernetes" : "local",
    driverStages: reconciler.stageNames,
    assertRuntimeAvailable,
    wake: (id) => reconciler.wake(id),
    warmPool: options.warmPool,
  });
  const activity = new SandboxActivity();
  const waker = new SandboxWaker({
    pool: options.pool,
    activity,
    reconcile: (id) => reconciler.wake(id),
    settled: (id) => reconciler.idle(id),
    timeoutMs: options.idle?.wakeTimeoutMs,
  });
  const reaper = new IdleReaper({
    pool: options.pool,
    activity,
    driver,
    reconcile: (id) => reconciler.wake(id),
    log,
    checkMs: options.idle?.checkMs,
  });
  const commands = new SandboxCommands(service, driver, options.projectVariables, waker);

  return {
    service,
    commands,
    reconciler,
    driver,
    idle: { activity, waker, reaper },
    async start() {
      await driver.start();
      await reconciler.start();
      reaper.start();
    },
    async stop() {
      await reaper.stop();
      await reconciler.stop();
      await driver.close();
    },
    availability,
    routes(app) {
      sandboxRoutes(app, service);
      execRoutes(app, commands);
      processRoutes(app, commands);
      terminalRoutes(app, new TerminalService(commands, options.projectVariables));
      fileRoutes(app, new SandboxFiles(commands));
    },
  };
}

function localDriver(options: SandboxRuntimeOptions, log: Logger): LocalDriver {
  return new LocalDriver({
    root: dataPaths(options.dataDir).sandboxes,
    // dist/opt-outpost, or a copy in the data dir when the sandbox uid cannot reach the repo.
    outpostDir: (owner) => resolveOutpostDir({ packageRoot: packageRoot(), dataDir: options.dataDir, sandboxOwner: owner }),
    bwrapPath: options.bwrapPath,
    stopGraceMs: options.stopGraceMs,
    log: (message) => log.info(message),
    egress: options.egress,
    agentsDir: options.agentsDir,
  });
}
