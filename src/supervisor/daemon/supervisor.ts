// Composition root of the daemon, free of any transport: the router with every route of
// protocol 2, and shutdown. main.ts binds it to the link the supervisor dials.

import type { HealthResponse } from "../protocol.ts";
import { PROTOCOL_VERSION } from "../protocol.ts";
import { execHandler } from "./exec.ts";
import { Confinement } from "./files/confine.ts";
import { addFileRoutes } from "./files/routes.ts";
import { portsHandler } from "./ports.ts";
import { addProcessRoutes } from "./processes/handlers.ts";
import { ProcessManager } from "./processes/manager.ts";
import { ptyHandler } from "./pty-handler.ts";
import { sendJson } from "./respond.ts";
import { Router } from "./router.ts";
import { RunRegistry } from "./run-registry.ts";
import { addTerminalRoutes } from "./terminal-handlers.ts";
import { TerminalManager } from "./terminals.ts";
import { tunnelHandler } from "./tunnel.ts";
import { SUPERVISOR_VERSION } from "./version.ts";

export interface SupervisorOptions {
  stateDir: string;
  workspace: string;
  killGraceMs: number;
  logCapBytes: number;
  log: (message: string) => void;
}

export interface Supervisor {
  router: Router;
  /** Stops every process (SIGTERM, SIGKILL after the grace) and finalises their journals. */
  shutdown(): Promise<void>;
}

export function createSupervisor(options: SupervisorOptions): Supervisor {
  const startedAt = performance.now();
  const runs = new RunRegistry();
  const processes = new ProcessManager({ stateDir: options.stateDir, workspace: options.workspace, logCapBytes: options.logCapBytes, runs, log: options.log });
  processes.load();

  const router = new Router()
    .add("GET", "/v1/health", async (_request, response) => {
      const health: HealthResponse = {
        protocol: PROTOCOL_VERSION,
        supervisorVersion: SUPERVISOR_VERSION,
        pid: process.pid,
        uptimeMs: Math.round(performance.now() - startedAt),
      };
      sendJson(response, 200, health);
    })
    .add("POST", "/v1/exec", execHandler({ workspace: options.workspace, runs }))
    .add("POST", "/v1/pty", ptyHandler({ workspace: options.workspace }))
    .add("POST", "/v1/tunnel", tunnelHandler())
    .add("GET", "/v1/ports", portsHandler());
  addProcessRoutes(router, processes);
  // Files: the workspace and the sandbox user's home (HOME, set by the driver), nothing else.
  addFileRoutes(router, Confinement.create(options.workspace, process.env.HOME));
  addTerminalRoutes(router, new TerminalManager({ workspace: options.workspace, runs }));

  return {
    router,
    shutdown: () => runs.stopAll(options.killGraceMs),
  };
}
