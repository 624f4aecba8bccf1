// Previews on the main origin, as API routes: the sandbox's listening ports (so the UI can
// show them as they appear), the route that opens a preview in a signed-in browser (a
// one-time code, redirected to the preview's own origin, which turns it into a cookie of
// that origin alone), and share links. The previews themselves are served by the front
// door (api/previews/front-door.ts), never by these routes.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { describeError } from "../../domain/error-registry.ts";
import { OutpostError } from "../../domain/errors.ts";
import { errorResponses, idParam } from "../../schemas/common.ts";
import {
  createdShare,
  openQuery,
  portList,
  portsQuery,
  previewParams,
  SHARE_DEFAULT_MINUTES,
  shareBody,
  shareList,
  shareParams,
} from "../../schemas/previews.ts";
import type { PreviewService, Share } from "../../services/previews.ts";
import type { PortList } from "../../supervisor/protocol.ts";
import { currentPrincipal } from "../auth.ts";
import type { PreviewOrigins } from "../previews/host.ts";
import { safeNext } from "../previews/host.ts";
import { SseStream } from "../sse.ts";

/** How often a followed port list is read again (a read is one small supervisor call). */
export const PORTS_POLL_MS = 1000;

export function previewRoutes(app: FastifyInstance, previews: PreviewService, origins: PreviewOrigins): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["previews"];

  const present = (sandbox: string, ports: PortList["items"]) => ({
    items: ports.map((p) => ({
      port: p.port,
      addresses: p.addresses,
      process: p.process,
      previewUrl: `${origins.origin(sandbox, p.port)}/`,
      openUrl: origins.openUrl(sandbox, p.port),
    })),
  });

  r.get(
    "/api/v1/sandboxes/:id/ports",
    {
      schema: {
        tags,
        summary: "List the TCP ports listening inside a sandbox",
        description:
          "Ports a preview can reach (listening on 127.0.0.1, 0.0.0.0 or :: inside), with the process when known. `follow=true` answers Server-Sent Events: a `ports` event with the whole list at once and whenever it changes.",
        params: idParam,
        querystring: portsQuery,
        response: { 200: portList, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const first = await previews.ports(principal, request.params.id);
      if (request.query.follow !== "true") return present(first.sandbox.name, first.ports);

      const stream = new SseStream(reply, request.id);
      let last = "";
      let id = 0;
      let ports = first.ports;
      try {
        while (!stream.signal.aborted) {
          const json = JSON.stringify(present(first.sandbox.name, ports));
          if (json !== last) {
            last = json;
            await stream.sendJson({ id: ++id, type: "ports", json });
          }
          await waitOrAbort(PORTS_POLL_MS, stream.signal);
          if (stream.signal.aborted) break;
          ports = (await previews.ports(principal, request.params.id, stream.signal)).ports;
        }
      } catch (error) {
        if (!stream.signal.aborted) {
          await stream.send({ type: "error", data: describeError(error) });
        }
      } finally {
        stream.end();
      }
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/previews/:port/open",
    {
      schema: {
        tags,
        summary: "Open a preview in this browser",
        description:
          "Answers 303 to the preview's own origin (`http://<port>-<sandbox>.localhost:<OUTPOST_PORT>/` or under OUTPOST_PREVIEW_DOMAIN) with a one-time code (60 s) that it exchanges for a cookie of that origin only. The UI's session cookie never reaches a preview. `next` is the path to land on.",
        params: previewParams,
        querystring: openQuery,
        response: { 303: z.null().describe("See Location: the preview's sign-in URL."), ...errorResponses },
      },
    },
    async (request, reply) => {
      const next = safeNext(request.query.next);
      if (next === null) {
        throw new OutpostError("VALIDATION_FAILED", "Invalid request: querystring.next must be a path on the preview's origin, such as /app.", {
          details: { issues: [{ path: "querystring.next", message: "must be a path starting with a single /" }] },
        });
      }
      reply.header("cache-control", "no-store");
      // Link checkers send HEAD: only a GET (a browser opening it) mints a code.
      if (request.method === "HEAD") {
        const sandbox = await previews.previewable(currentPrincipal(request), request.params.id);
        return reply.redirect(`${origins.origin(sandbox.name, request.params.port)}/`, 303);
      }
      const { sandbox, code } = await previews.mintCode(currentPrincipal(request), request.params.id, request.params.port);
      return reply.redirect(origins.loginUrl(sandbox.name, request.params.port, { code }, next), 303);
    },
  );

  r.post(
    "/api/v1/sandboxes/:id/previews/:port/share",
    {
      schema: {
        tags,
        summary: "Share a preview with a link anyone can open",
        description: "The link works for anyone, without an account, until `expiresAt` or until the share is deleted. Its URL is in this answer only.",
        params: previewParams,
        body: shareBody,
        response: { 201: createdShare, ...errorResponses },
      },
    },
    async (request, reply) => {
      const minutes = request.body?.expiresInMinutes ?? SHARE_DEFAULT_MINUTES;
      const { sandbox, share, token } = await previews.createShare(currentPrincipal(request), request.params.id, request.params.port, minutes);
      reply.code(201);
      return { ...presentShare(share), url: origins.loginUrl(sandbox.name, share.port, { share: token }) };
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/previews/:port/share",
    {
      schema: {
        tags,
        summary: "List a preview's share links that have not expired",
        description: "Without their URLs, which are shown once, when a share is made.",
        params: previewParams,
        response: { 200: shareList, ...errorResponses },
      },
    },
    async (request) => {
      const { shares } = await previews.listShares(currentPrincipal(request), request.params.id, request.params.port);
      return { items: shares.map(presentShare) };
    },
  );

  r.delete(
    "/api/v1/sandboxes/:id/previews/:port/share/:shareId",
    {
      schema: {
        tags,
        summary: "Revoke a share link",
        description: "The link stops working at once, and so do the browser sessions it opened.",
        params: shareParams,
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await previews.deleteShare(currentPrincipal(request), request.params.id, request.params.port, request.params.shareId);
      reply.code(204);
      return null;
    },
  );
}

function presentShare(share: Share) {
  return {
    id: share.id,
    sandboxId: share.sandboxId,
    port: share.port,
    createdBy: share.createdBy,
    createdAt: share.createdAt.toISOString(),
    expiresAt: share.expiresAt.toISOString(),
  };
}

function waitOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
