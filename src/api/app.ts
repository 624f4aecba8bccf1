// Assembles the HTTP app: logging with request ids, zod validation, OpenAPI + /docs, one
// auth check, one error shape, and the routes. Pure wiring: everything it needs is passed in.
import { randomBytes } from "node:crypto";
import fastifySwagger from "@fastify/swagger";
import scalar from "@scalar/fastify-api-reference";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type pg from "pg";
import type { Logger } from "pino";
import type { AuthService } from "../services/auth.ts";
import type { EventHub } from "../services/event-hub.ts";
import type { ProjectService } from "../services/projects.ts";
import { registerAuth } from "./auth.ts";
import { toErrorPayload } from "./errors.ts";
import { registerMetrics } from "./metrics.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { homeRoutes } from "./routes/home.ts";
import { projectRoutes } from "./routes/projects.ts";
import { sessionRoutes } from "./routes/session.ts";

export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface AppDeps {
  logger: Logger;
  pool: pg.Pool;
  auth: AuthService;
  projects: ProjectService;
  hub: EventHub;
  isReady: () => Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  publicUrl: () => string;
  version: string;
  /** Tests set this very high to prove that LISTEN/NOTIFY alone delivers events. */
  eventsSafetyPollMs?: number;
  /** Later issues plug their routes in here (sandboxes, runs, …). */
  extraRoutes?: (app: FastifyInstance) => void;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdLogLabel: "requestId",
    genReqId: (request) => {
      const incoming = request.headers["x-request-id"];
      return typeof incoming === "string" && /^[A-Za-z0-9._-]{8,64}$/.test(incoming) ? incoming : `req_${randomBytes(8).toString("hex")}`;
    },
    // Long-lived SSE and (later) WebSocket connections must not be cut by a request timeout.
    requestTimeout: 0,
    forceCloseConnections: true,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.setErrorHandler((error, request, reply) => {
    const payload = toErrorPayload(error);
    if (payload.status >= 500) request.log.error({ err: error }, "request failed");
    else request.log.info({ code: payload.code }, payload.message);
    reply.code(payload.status).send({ error: { code: payload.code, message: payload.message, details: payload.details, requestId: request.id } });
  });
  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send({ error: { code: "NOT_FOUND", message: `No route ${request.method} ${request.url.split("?")[0]}.`, details: {}, requestId: request.id } });
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Outpost API", version: deps.version, description: "Projects, sandboxes and agent runs. Conventions: docs/api.md." },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  registerAuth(app, deps.auth);
  registerMetrics(app, deps.pool);
  healthRoutes(app, deps.isReady);
  homeRoutes(app);
  sessionRoutes(app, deps.auth, deps.publicUrl);
  projectRoutes(app, deps.projects);
  eventRoutes(app, { pool: deps.pool, hub: deps.hub, projects: deps.projects, safetyPollMs: deps.eventsSafetyPollMs });
  deps.extraRoutes?.(app);

  app.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // The reference page must work offline: its bundle is served by the plugin itself, and
  // fonts, the request proxy and telemetry (all remote by default) are turned off.
  await app.register(scalar, {
    routePrefix: "/docs",
    logLevel: "warn",
    configuration: {
      url: "/api/v1/openapi.json",
      title: "Outpost API",
      withDefaultFonts: false,
      telemetry: false,
      proxyUrl: "",
      hideClientButton: true,
      showDeveloperTools: "never",
      agent: { disabled: true },
      mcp: { disabled: true },
    } as never,
  });
  return app;
}
