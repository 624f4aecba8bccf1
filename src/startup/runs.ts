// Agent runs, wired: the installer of agent CLIs, the engine that drives runs in sandboxes,
// the service behind the API, its routes, and the listener for run-event notifications.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { runRoutes } from "../api/routes/runs.ts";
import { parseAgentVersions } from "../domain/agents/registry.ts";
import { AgentInstaller } from "../services/agent-installer.ts";
import { EventHub } from "../services/event-hub.ts";
import type { ProjectService } from "../services/projects.ts";
import type { TurnHooks } from "../services/run-engine.ts";
import { RunEngine } from "../services/run-engine.ts";
import { RunService } from "../services/runs.ts";
import type { CommandVariables } from "../services/variables.ts";
import { RUN_EVENTS_CHANNEL } from "../store/runs.ts";
import type { SandboxRuntime } from "./sandboxes.ts";

export interface RunRuntime {
  routes(app: FastifyInstance): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  installer: AgentInstaller;
}

/** The agents folder: made before any sandbox starts, since every sandbox binds it. */
export function prepareAgentsDir(settings: { dataDir: string; agentsDir?: string }): string {
  const dir = settings.agentsDir ?? join(settings.dataDir, "agents");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  return dir;
}

export function createRunRuntime(options: {
  pool: pg.Pool;
  agentsDir: string;
  agentVersions?: string;
  sandboxes: SandboxRuntime;
  projects: ProjectService;
  projectVariables: (projectId: string) => Promise<CommandVariables>;
  listenConnection: pg.ClientConfig;
  logger: Logger;
  stopGraceMs?: number;
  /** Git around each turn (branch, checkpoint, trailers; push after). */
  turns?: TurnHooks;
}): RunRuntime {
  const log = options.logger.child({ component: "runs" });
  const installer = new AgentInstaller({ dir: options.agentsDir, versions: parseAgentVersions(options.agentVersions), log: (message) => log.info(message) });
  const hub = new EventHub({ connection: options.listenConnection, log, channel: RUN_EVENTS_CHANNEL });
  const engine = new RunEngine({
    pool: options.pool,
    driver: options.sandboxes.driver,
    translate: (error) => options.sandboxes.commands.translate(error),
    projectVariables: options.projectVariables,
    installer,
    log,
    stopGraceMs: options.stopGraceMs,
    onEvents: () => hub.poke(),
    turns: options.turns,
    gate: options.sandboxes.idle.waker,
  });
  const service = new RunService(options.pool, engine);
  return {
    installer,
    routes(app) {
      runRoutes(app, { runs: service, projects: options.projects, hub, installer, commands: options.sandboxes.commands });
    },
    async start() {
      await installer.tidy();
      await hub.start();
      await engine.start();
    },
    async stop() {
      await engine.close();
      await hub.close();
    },
  };
}
