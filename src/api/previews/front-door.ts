// The front door of the HTTP server: each request (and each Upgrade) is looked at before
// Fastify sees it. A preview's request never enters the API, so it gets none of the API's
// routing, auth, body parsing, headers or cookies; everything else goes on to Fastify as
// if this were not here. Two ways in (see host.ts):
//   - a preview's own origin (`<port>-<sandbox>.localhost`, or under OUTPOST_PREVIEW_DOMAIN):
//     the preview cookie only, which `/__outpost/preview-login` sets from a one-time code
//     (minted by GET /api/v1/sandboxes/{id}/previews/{port}/open) or a share link;
//   - `/preview/<sandbox>/<port>/…` on the main origin: a bearer token only (API clients,
//     scripts). The UI's session cookie is not accepted there: a browser is sent to the
//     open route instead, which puts the preview on its own origin.
// Codes, share tokens and cookies are never logged (the log line has no query string).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyServerFactory } from "fastify";
import type { Logger } from "pino";
import { OutpostError } from "../../domain/errors.ts";
import type { User } from "../../services/auth.ts";
import type { PreviewAccess, PreviewService } from "../../services/previews.ts";
import { errorBody, newRequestId, toErrorPayload } from "../errors.ts";
import { cookieValues, PREVIEW_COOKIE, previewCookie } from "./cookies.ts";
import { BEARER_PREFIX, claimOf, PREVIEW_LOGIN_PATH, type PreviewClaim, type PreviewOrigins, safeNext } from "./host.ts";
import { errorPage, linkInvalidPage, signInPage } from "./pages.ts";
import { type Forwarding, proxyRequest, proxyUpgrade, rawHead } from "./proxy.ts";

export interface FrontDoorDeps {
  previews: PreviewService;
  /** Bearer tokens on the main origin's /preview/ path. */
  userForToken: (token: string) => Promise<User | null>;
  origins: PreviewOrigins;
  log: Logger;
  /** How long the app has to start answering (default 60 s). */
  firstByteTimeoutMs?: number;
}

type Claimed = Exclude<PreviewClaim, { kind: "invalid" }>;

export class PreviewFrontDoor {
  /** Upgraded connections (WebSockets) under way: the HTTP server no longer tracks them. */
  readonly #upgraded = new Set<Duplex>();

  constructor(private readonly deps: FrontDoorDeps) {}

  /** Whether a request is a preview's: decided from Host and URL alone, before any routing. */
  claim(request: IncomingMessage): PreviewClaim | null {
    return claimOf(request.headers.host, request.url ?? "/", this.deps.origins.domain);
  }

  /** A Fastify server factory: Node's HTTP server, with previews taken off before Fastify's handler and its upgrade listeners. */
  serverFactory(): FastifyServerFactory {
    return ((handler: (request: IncomingMessage, response: ServerResponse) => void, options: Record<string, unknown>) => {
      const server = createServer((request, response) => {
        const claim = this.claim(request);
        if (claim) void this.request(request, response, claim);
        else handler(request, response);
      });
      // Fastify's WebSocket support listens for 'upgrade' on this server; a preview's upgrade
      // is answered here and never reaches it.
      const emit = server.emit.bind(server) as (event: string, ...args: unknown[]) => boolean;
      server.emit = ((event: string, ...args: unknown[]) => {
        if (event === "upgrade") {
          const [request, socket, head] = args as [IncomingMessage, Duplex, Buffer];
          const claim = this.claim(request);
          if (claim) {
            void this.upgrade(request, socket, head, claim);
            return true;
          }
        }
        return emit(event, ...args);
      }) as Server["emit"];
      // Fastify closes every connection at shutdown (forceCloseConnections); Node's list of
      // them has no upgraded ones, so this server's WebSockets are closed here too.
      const closeAllConnections = server.closeAllConnections.bind(server);
      server.closeAllConnections = () => {
        closeAllConnections();
        for (const socket of this.#upgraded) socket.destroy();
      };
      // What Fastify sets on the servers it makes itself.
      server.keepAliveTimeout = Number(options.keepAliveTimeout);
      server.requestTimeout = Number(options.requestTimeout ?? 0);
      server.setTimeout(Number(options.connectionTimeout ?? 0));
      return server;
    }) as unknown as FastifyServerFactory;
  }

  /** One HTTP request to a preview. Never throws: failures are answered. */
  async request(request: IncomingMessage, response: ServerResponse, claim: PreviewClaim): Promise<void> {
    const requestId = newRequestId();
    const started = performance.now();
    const cancel = new AbortController();
    response.once("close", () => cancel.abort());
    try {
      if (claim.kind === "invalid") throw this.#notFound(claim.where);
      if (claim.kind === "origin" && pathOf(request.url) === PREVIEW_LOGIN_PATH) return await this.#login(request, response, claim);
      if (claim.kind === "bearer" && request.headers.authorization === undefined && wantsHtml(request)) {
        // A browser on the main origin: the preview opens on its own origin instead.
        response.writeHead(303, { location: this.deps.origins.openUrl(claim.sandbox, claim.port, safeNext(claim.path) ?? "/"), "cache-control": "no-store" });
        return void response.end();
      }
      const access = await this.#access(request, claim);
      const tunnel = await this.deps.previews.tunnel(access, cancel.signal);
      tunnel.on("error", () => {});
      // The browser left while the tunnel opened: nobody to answer.
      if (cancel.signal.aborted) return void tunnel.destroy();
      await proxyRequest(request, response, tunnel, this.#forwarding(request, claim, access));
    } catch (error) {
      this.#answer(request, response, error, requestId, claim);
    } finally {
      this.deps.log.debug(
        { requestId, method: request.method, preview: describe(claim), status: response.statusCode, ms: Math.round(performance.now() - started) },
        "preview request",
      );
    }
  }

  /** One Upgrade (a WebSocket) to a preview. Never throws: failures are answered on the socket. */
  async upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, claim: PreviewClaim): Promise<void> {
    const requestId = newRequestId();
    // Until it is piped, an error on the browser's socket has nobody else to hear it.
    socket.on("error", () => {});
    this.#upgraded.add(socket);
    socket.once("close", () => this.#upgraded.delete(socket));
    const cancel = new AbortController();
    socket.once("close", () => cancel.abort());
    try {
      if (claim.kind === "invalid") throw this.#notFound(claim.where);
      if (claim.kind === "origin" && pathOf(request.url) === PREVIEW_LOGIN_PATH) {
        throw new OutpostError("METHOD_NOT_ALLOWED", "The preview sign-in path does not take WebSockets.");
      }
      const access = await this.#access(request, claim);
      const tunnel = await this.deps.previews.tunnel(access, cancel.signal);
      tunnel.on("error", () => {});
      if (cancel.signal.aborted) return void tunnel.destroy();
      await proxyUpgrade(request, socket, head, tunnel, this.#forwarding(request, claim, access));
    } catch (error) {
      const payload = toErrorPayload(error);
      this.#log(payload.status, payload.code, requestId, claim, error);
      if (!socket.writable) return void socket.destroy();
      const body = JSON.stringify(errorBody(payload, requestId));
      const headers = ["Content-Type", "application/json; charset=utf-8", "Content-Length", String(Buffer.byteLength(body)), "X-Request-Id", requestId];
      socket.end(rawHead(payload.status, undefined, [...headers, "Connection", "close"]) + body);
    }
  }

  /** Who is asking, and may they: the preview cookie on a preview origin, a bearer token on the main one. */
  async #access(request: IncomingMessage, claim: Claimed): Promise<PreviewAccess> {
    if (claim.kind === "origin") {
      const values = cookieValues(request.headers.cookie, PREVIEW_COOKIE);
      const access = values.length ? await this.deps.previews.access(values, claim.sandbox, claim.port) : null;
      if (access) return access;
      if (!(await this.deps.previews.sandboxNamed(claim.sandbox))) throw this.#notFound("origin", claim.sandbox);
      throw new OutpostError(
        "PREVIEW_UNAUTHENTICATED",
        values.length
          ? "This browser's session for the preview has expired or was revoked; open the preview from Outpost again."
          : "Previews open from Outpost: the UI's session does not reach them, and this browser has no session for this one.",
      );
    }
    const header = request.headers.authorization;
    if (header === undefined) {
      throw new OutpostError("PREVIEW_UNAUTHENTICATED", `${BEARER_PREFIX}/<sandbox>/<port>/ takes a bearer token only (cookies are not accepted there).`);
    }
    const token = /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1];
    const user = token ? await this.deps.userForToken(token) : null;
    if (!user) throw new OutpostError("UNAUTHENTICATED", "The bearer token is not valid (revoked, mistyped, or from another installation).");
    return this.deps.previews.bearerAccess({ userId: user.id, isAdmin: user.isAdmin }, claim.sandbox, claim.port);
  }

  /** GET /__outpost/preview-login?code=…|share=…&next=/path: trades the code or share token for this origin's cookie. */
  async #login(request: IncomingMessage, response: ServerResponse, claim: Extract<PreviewClaim, { kind: "origin" }>): Promise<void> {
    if (request.method !== "GET" && request.method !== "HEAD") throw new OutpostError("METHOD_NOT_ALLOWED", "The preview sign-in path answers GET only.");
    const query = new URL(request.url ?? "/", "http://preview.invalid").searchParams;
    const next = safeNext(query.get("next") ?? undefined);
    if (next === null) {
      throw new OutpostError("VALIDATION_FAILED", "`next` must be a path on this preview's origin, such as /app?tab=1.", {
        details: { issues: [{ path: "querystring.next", message: "must be a path starting with a single /" }] },
      });
    }
    // Link checkers and chat previews send HEAD: only a GET (the browser following the
    // link) may spend the one-time code.
    if (request.method === "HEAD") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
      return void response.end();
    }
    const code = query.get("code");
    const share = query.get("share");
    const opened = code
      ? await this.deps.previews.exchangeCode(code, claim.sandbox, claim.port)
      : share
        ? await this.deps.previews.openShare(share, claim.sandbox, claim.port)
        : null;
    if (!opened) {
      const body = linkInvalidPage(share && !code ? "share" : "code");
      response.writeHead(401, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", "referrer-policy": "no-referrer" });
      return void response.end(body);
    }
    response.writeHead(303, {
      location: next,
      "set-cookie": previewCookie(opened.token, opened.maxAgeSeconds, this.deps.origins.secure()),
      "cache-control": "no-store",
      "referrer-policy": "no-referrer",
    });
    response.end();
  }

  #forwarding(request: IncomingMessage, claim: Claimed, access: PreviewAccess): Forwarding {
    const proto = this.deps.origins.secure() ? "https" : "http";
    const firstByteTimeoutMs = this.deps.firstByteTimeoutMs;
    if (claim.kind === "origin") return { host: request.headers.host ?? "", path: request.url ?? "/", mode: "origin", proto, firstByteTimeoutMs };
    return {
      host: new URL(this.deps.origins.origin(access.sandbox.name, access.port)).host,
      path: claim.path,
      mode: "bearer",
      proto,
      prefix: `${BEARER_PREFIX}/${claim.sandbox}/${claim.port}`,
      firstByteTimeoutMs,
    };
  }

  #notFound(where: "origin" | "bearer", sandbox?: string): OutpostError {
    if (sandbox) return new OutpostError("PREVIEW_NOT_FOUND", `No preview: there is no sandbox '${sandbox}'.`, { details: { sandbox } });
    return new OutpostError(
      "PREVIEW_NOT_FOUND",
      where === "origin"
        ? "No preview: the host must be <port>-<sandbox>.<preview domain> with a port from 1 to 65535."
        : `No preview: the path must be ${BEARER_PREFIX}/<sandbox>/<port>/… with a port from 1 to 65535.`,
    );
  }

  /** An answer made here: the error shape, or for a browser's navigation a small page. */
  #answer(request: IncomingMessage, response: ServerResponse, error: unknown, requestId: string, claim: PreviewClaim): void {
    const payload = toErrorPayload(error);
    this.#log(payload.status, payload.code, requestId, claim, error);
    if (response.headersSent) return void response.destroy();
    const headers = { "x-request-id": requestId, "cache-control": "no-store" };
    if (wantsHtml(request) && claim.kind !== "bearer") {
      const html =
        payload.code === "PREVIEW_UNAUTHENTICATED" && claim.kind === "origin"
          ? signInPage(`${claim.port}-${claim.sandbox}`, this.deps.origins.openUrl(claim.sandbox, claim.port, safeNext(request.url) ?? "/"))
          : errorPage(payload.message, payload.hint);
      response.writeHead(payload.status, { ...headers, "content-type": "text/html; charset=utf-8" });
      return void response.end(html);
    }
    response.writeHead(payload.status, { ...headers, "content-type": "application/json; charset=utf-8" });
    response.end(JSON.stringify(errorBody(payload, requestId)));
  }

  #log(status: number, code: string, requestId: string, claim: PreviewClaim, error: unknown): void {
    const fields = { requestId, preview: describe(claim), code };
    if (status >= 500) this.deps.log.warn({ ...fields, err: error }, "preview failed");
    else this.deps.log.debug(fields, "preview refused");
  }
}

/** The path of a request URL, without its query (which may carry a code). */
const pathOf = (url: string | undefined) => (url ?? "/").split("?", 1)[0];

/** A browser navigating (it will render what it gets), as opposed to a script or an API client. */
function wantsHtml(request: IncomingMessage): boolean {
  return (request.method === "GET" || request.method === "HEAD") && /\btext\/html\b/.test(request.headers.accept ?? "");
}

function describe(claim: PreviewClaim): string {
  return claim.kind === "invalid" ? `(invalid ${claim.where})` : `${claim.port}-${claim.sandbox}`;
}
