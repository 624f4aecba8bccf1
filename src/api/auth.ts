// One authentication check for every request but the probes and the login link: REST,
// SSE, the docs and (later) WebSocket terminals and previews all pass through here.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Principal } from "../domain/authorization.ts";
import { OutpostError } from "../domain/errors.ts";
import { type AuthService, SESSION_COOKIE, type User } from "../services/auth.ts";
import { readCookie } from "./cookies.ts";

declare module "fastify" {
  interface FastifyRequest {
    user: User | null;
    authMethod: "token" | "session" | null;
  }
  interface FastifyContextConfig {
    /** Served without credentials (the web UI's files: they hold no data). */
    public?: boolean;
  }
}

const PUBLIC_PATHS = new Set(["/healthz", "/readyz", "/login", "/favicon.ico"]);

export function registerAuth(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest("user", null);
  app.decorateRequest("authMethod", null);

  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?", 1)[0] ?? "/";
    // Routes marked public (the web UI's files, src/api/routes/home.ts) hold no data.
    if (PUBLIC_PATHS.has(path) || request.routeOptions.config?.public === true) return;

    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      const user = match?.[1] ? await auth.userForToken(match[1]) : null;
      if (!user) throw new OutpostError("UNAUTHENTICATED", "The bearer token is not valid (revoked, mistyped, or from another installation).");
      request.user = user;
      request.authMethod = "token";
      return;
    }

    const sessionId = readCookie(request.headers.cookie, SESSION_COOKIE);
    const user = sessionId ? await auth.userForSession(sessionId) : null;
    if (user) {
      // A cookie rides along on cross-site requests too: refuse mutations from other origins.
      // A WebSocket upgrade is a GET, but browsers send cookies on cross-site WebSockets and
      // no CORS check guards what the socket then reads or types (a terminal!): same rule.
      if ((!["GET", "HEAD", "OPTIONS"].includes(request.method) || isUpgrade(request)) && !sameOrigin(request)) {
        throw new OutpostError("FORBIDDEN", "Cross-origin requests with a session cookie are refused; use a bearer token.");
      }
      request.user = user;
      request.authMethod = "session";
      return;
    }

    if (path === "/" || path.startsWith("/docs")) {
      return reply.code(401).type("text/html; charset=utf-8").send(SIGN_IN_PAGE);
    }
    throw new OutpostError("UNAUTHENTICATED", "Send `Authorization: Bearer <token>`; the admin token is in <data dir>/admin-token.");
  });
}

function isUpgrade(request: FastifyRequest): boolean {
  return (request.headers.upgrade ?? "").toLowerCase() === "websocket";
}

function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** The authenticated user; routes behind the hook can rely on it. */
export function currentUser(request: FastifyRequest): User {
  if (!request.user) throw new OutpostError("UNAUTHENTICATED", "Not signed in.");
  return request.user;
}

/** The authenticated user as services see them: who acts, and whether they are an admin. */
export function currentPrincipal(request: FastifyRequest): Principal {
  const user = currentUser(request);
  return { userId: user.id, isAdmin: user.isAdmin };
}

const SIGN_IN_PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>Outpost — sign in</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto">
<h1>Outpost</h1><p>You are not signed in. Open the login link that <code>npm start</code> printed,
or print a new one with <code>outpost login-link</code>.</p></body></html>`;
