// Assembles the HTTP app: logging with request ids, zod validation, OpenAPI + /docs, one
// auth check, one error shape, and the routes. Pure wiring: everything it needs is passed in.
import fastifySwagger from "@fastify/swagger";
import fastifyWebsocket from "@fastify/websocket";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerFactory } from "fastify";
import { jsonSchemaTransform, jsonSchemaTransformObject, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type pg from "pg";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { OutpostError } from "../domain/errors.ts";
import type { AuthService } from "../services/auth.ts";
import type { EventHub } from "../services/event-hub.ts";
import { EventService } from "../services/events.ts";
import { MemberService } from "../services/members.ts";
import type { ProjectService } from "../services/projects.ts";
import { UserService } from "../services/users.ts";
import { registerAuth } from "./auth.ts";
import { answerClientError, newRequestId, sendError } from "./errors.ts";
import { registerMetrics } from "./metrics.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { homeRoutes } from "./routes/home.ts";
import { meRoutes } from "./routes/me.ts";
import { memberRoutes } from "./routes/members.ts";
import { projectRoutes } from "./routes/projects.ts";
import { sessionRoutes } from "./routes/session.ts";
import { userRoutes } from "./routes/users.ts";

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
  /** The registry /metrics shows (parts outside the API add their own metrics to it). */
  metrics?: Registry;
  /** The HTTP server to use instead of Fastify's own (previews answer on it before Fastify: startup/previews.ts). */
  serverFactory?: FastifyServerFactory;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    requestIdLogLabel: "requestId",
    genReqId: (request) => {
      const incoming = request.headers["x-request-id"];
      return typeof incoming === "string" && /^[A-Za-z0-9._-]{8,64}$/.test(incoming) ? incoming : newRequestId();
    },
    // What fails before routing answers in the documented error shape too: a path that is
    // not valid percent-encoding here, and what node's parser refuses (an unknown method,
    // headers over its limit, malformed HTTP) on the raw socket.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
    clientErrorHandler: (error, socket) => answerClientError(error, socket, deps.logger as FastifyBaseLogger),
    // Long-lived SSE and (later) WebSocket connections must not be cut by a request timeout.
    requestTimeout: 0,
    forceCloseConnections: true,
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
    // Every route validates and serializes with zod (below). Named here as the compilers'
    // factory too, so that Fastify does not load its default ones (ajv and
    // fast-json-stringify: ~45 ms of every start) only to replace them. (Fastify's types
    // describe these factories for ajv only, hence the casts.)
    schemaController: {
      compilersFactory: { buildValidator: (() => validatorCompiler) as never, buildSerializer: (() => serializerCompiler) as never },
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });

  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    sendError(new OutpostError("ROUTE_NOT_FOUND", `No route ${request.method} ${request.url.split("?")[0]}.`), request, reply),
  );

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

  // WebSocket upgrades (terminals, previews) go through the same hooks as every request:
  // registerAuth's onRequest check runs before a socket is accepted. Frames are capped (a
  // keystroke or a resize is small; preview traffic is chunked by the proxy).
  await app.register(fastifyWebsocket, { options: { maxPayload: 1024 * 1024 } });

  registerAuth(app, deps.auth);
  registerMetrics(app, deps.pool, deps.metrics);
  healthRoutes(app, deps.isReady);
  homeRoutes(app);
  sessionRoutes(app, deps.auth, deps.publicUrl);
  meRoutes(app);
  projectRoutes(app, deps.projects);
  memberRoutes(app, new MemberService(deps.pool));
  userRoutes(app, new UserService(deps.pool, deps.auth));
  eventRoutes(app, { events: new EventService(deps.pool), hub: deps.hub, projects: deps.projects, safetyPollMs: deps.eventsSafetyPollMs });
  deps.extraRoutes?.(app);

  app.get("/api/v1/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  // Scalar's reference page is its whole front end (4 MB of JavaScript, ~0.2 s to load, tens
  // of MB of memory), so it is imported at the first request to /docs, not at start-up. Its
  // plugin cannot be registered once this app listens: it gets a Fastify app of its own that
  // never listens, and these routes, behind this app's hooks (auth, request ids), hand it
  // the request.
  let docsApp: Promise<FastifyInstance> | undefined;
  const forwardToDocs = async (request: FastifyRequest, reply: FastifyReply) => {
    docsApp ??= loadDocsApp(deps.logger.child({ component: "docs" }) as FastifyBaseLogger).catch((error) => {
      docsApp = undefined;
      throw error;
    });
    // Always GET: for a HEAD request, Fastify drops the body this handler sends.
    const response = await (await docsApp).inject({ method: "GET", url: request.url, headers: { host: request.headers.host ?? "localhost" } });
    if (response.statusCode === 404) return reply.callNotFound();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) reply.header(name, value);
    }
    return reply.code(response.statusCode).send(response.rawPayload);
  };
  app.get("/docs", { schema: { hide: true }, logLevel: "warn" }, forwardToDocs);
  app.get("/docs/*", { schema: { hide: true }, logLevel: "warn" }, forwardToDocs);
  app.addHook("onClose", async () => {
    await (await docsApp?.catch(() => undefined))?.close();
  });
  return app;
}

/** Headers of the docs app's answer that describe its own connection, not the content. */
const HOP_BY_HOP = new Set(["content-length", "connection", "keep-alive", "transfer-encoding", "date"]);

/** The reference page must work offline: its bundle is served by the plugin itself, and
 *  fonts, the request proxy and telemetry (all remote by default) are turned off. */
async function loadDocsApp(logger: FastifyBaseLogger): Promise<FastifyInstance> {
  const { default: scalar } = await import("@scalar/fastify-api-reference");
  // Requests are logged by the app that forwards them.
  const docs = Fastify({ loggerInstance: logger, disableRequestLogging: true });
  await docs.register(scalar, {
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
  await docs.ready();
  return docs;
}
