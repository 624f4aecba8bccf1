// Start-up, previews: the preview service on the sandboxes' runtime, the origins previews
// are served from, the front door that takes preview requests off the HTTP server before
// Fastify, and the API routes (ports, open, share). Part of the one composition root.
import type { FastifyInstance, FastifyServerFactory } from "fastify";
import type pg from "pg";
import type { Logger } from "pino";
import { PreviewFrontDoor } from "../api/previews/front-door.ts";
import { PreviewOrigins } from "../api/previews/host.ts";
import { previewRoutes } from "../api/routes/previews.ts";
import type { AuthService } from "../services/auth.ts";
import { PreviewService } from "../services/previews.ts";
import type { SandboxRuntime } from "./sandboxes.ts";

export interface PreviewRuntime {
  service: PreviewService;
  origins: PreviewOrigins;
  frontDoor: PreviewFrontDoor;
  /** For buildApp: the HTTP server, with previews answered before Fastify. */
  serverFactory: FastifyServerFactory;
  routes(app: FastifyInstance): void;
}

export function createPreviewRuntime(options: {
  pool: pg.Pool;
  sandboxes: Pick<SandboxRuntime, "service" | "commands" | "driver"> & { idle?: Pick<SandboxRuntime["idle"], "waker"> };
  auth: Pick<AuthService, "userForToken">;
  /** OUTPOST_PREVIEW_DOMAIN. */
  domain: string | undefined;
  publicUrl: () => string;
  logger: Logger;
  firstByteTimeoutMs?: number;
}): PreviewRuntime {
  const service = new PreviewService({
    pool: options.pool,
    sandboxes: options.sandboxes.service,
    commands: options.sandboxes.commands,
    driver: options.sandboxes.driver,
    gate: options.sandboxes.idle?.waker,
  });
  const origins = new PreviewOrigins(options.domain, options.publicUrl);
  const frontDoor = new PreviewFrontDoor({
    previews: service,
    userForToken: (token) => options.auth.userForToken(token),
    origins,
    log: options.logger.child({ component: "previews" }),
    firstByteTimeoutMs: options.firstByteTimeoutMs,
  });
  return {
    service,
    origins,
    frontDoor,
    serverFactory: frontDoor.serverFactory(),
    routes: (app) => previewRoutes(app, service, origins),
  };
}
