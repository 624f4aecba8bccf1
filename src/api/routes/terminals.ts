// Terminals in a sandbox: persistent shell sessions kept by the sandbox's supervisor.
//   POST   /api/v1/sandboxes/{id}/terminals          open one → 201 Terminal
//   GET    /api/v1/sandboxes/{id}/terminals          list them
//   GET    /api/v1/sandboxes/{id}/terminals/{tid}    the Terminal; with a WebSocket upgrade,
//          attaches to it (tid `new`: opens one first), see api/terminal-socket.ts
//   DELETE /api/v1/sandboxes/{id}/terminals/{tid}    hang it up → 204 once the shell ended
// The upgrade is decided before the socket is accepted: authentication (the onRequest
// hook, which also refuses a cookie from another origin), the role (editor), the sandbox
// running and the terminal existing all answer as plain HTTP errors in the documented shape.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { OutpostError } from "../../domain/errors.ts";
import { errorResponses, idParam } from "../../schemas/common.ts";
import { attachQuery, createTerminalBody, terminalParams, terminalResource } from "../../schemas/terminals.ts";
import type { OpenTerminal, TerminalService } from "../../services/terminals.ts";
import { currentPrincipal } from "../auth.ts";
import { pipeTerminal } from "../terminal-socket.ts";

export function terminalRoutes(app: FastifyInstance, terminals: TerminalService): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["terminals"];

  r.post(
    "/api/v1/sandboxes/:id/terminals",
    {
      schema: {
        tags,
        summary: "Open a terminal (a login shell in /workspace)",
        description: "The shell runs in the sandbox until it exits or is deleted, whoever is attached. Attach with a WebSocket to …/terminals/{tid}.",
        params: idParam,
        body: createTerminalBody,
        response: { 201: terminalResource, ...errorResponses },
      },
    },
    async (request, reply) => {
      const terminal = await terminals.create(currentPrincipal(request), request.params.id, request.body);
      reply.code(201);
      return terminal;
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/terminals",
    {
      schema: {
        tags,
        summary: "List a sandbox's terminals",
        params: idParam,
        response: { 200: z.object({ items: z.array(terminalResource) }), ...errorResponses },
      },
    },
    async (request) => terminals.list(currentPrincipal(request), request.params.id),
  );

  r.delete(
    "/api/v1/sandboxes/:id/terminals/:tid",
    {
      schema: {
        tags,
        summary: "Close a terminal (hangs its shell up)",
        description: "Answers once the shell has ended (SIGHUP, SIGKILL after 2 s); attached clients get an `exit` message.",
        params: terminalParams,
        response: { 204: z.null().describe("The shell has ended."), ...errorResponses },
      },
    },
    async (request, reply) => {
      await terminals.kill(currentPrincipal(request), request.params.id, existing(request.params.tid));
      reply.code(204);
      return null;
    },
  );

  // Attachments opened before the upgrade, handed to the WebSocket handler once it runs.
  const opened = new WeakMap<FastifyRequest, OpenTerminal>();
  r.route({
    method: "GET",
    url: "/api/v1/sandboxes/:id/terminals/:tid",
    schema: {
      tags,
      summary: "Get a terminal; attach to it with a WebSocket upgrade",
      description:
        "Without an upgrade: the Terminal. With `Upgrade: websocket`: attaches (tid `new` opens a terminal first). The server sends a text message `{type:'terminal', …Terminal, created}`, then the screen as it is and live output as binary messages (a text `{type:'screen',cols,rows}` precedes every whole-screen redraw), and `{type:'exit',exitCode,signal}` when the shell ends. Send input as binary messages and `{type:'resize',cols,rows}` as text. `?cols=&rows=` resizes the terminal on attach. A cookie-authenticated upgrade must come from this origin.",
      params: terminalParams,
      querystring: attachQuery,
      response: { 200: terminalResource, ...errorResponses },
    },
    // Runs for upgrades before the socket is accepted: every refusal is an HTTP answer.
    preHandler: async (request) => {
      if (!request.ws) return;
      const { cols, rows } = request.query;
      const size = cols !== undefined && rows !== undefined ? { cols, rows } : undefined;
      const open = await terminals.attach(currentPrincipal(request), request.params.id, request.params.tid, size);
      opened.set(request, open);
      // A handshake that fails after this point never reaches wsHandler: the socket's end detaches.
      request.raw.socket.once("close", () => {
        if (opened.delete(request)) open.discard();
      });
    },
    handler: async (request) => terminals.get(currentPrincipal(request), request.params.id, existing(request.params.tid)),
    wsHandler: async (socket, request) => {
      const open = opened.get(request);
      opened.delete(request);
      if (!open) {
        socket.close(1011, "not attached");
        return;
      }
      await pipeTerminal(socket, open, (error) => terminals.describe(error));
    },
  });
}

/** `new` names no terminal outside a WebSocket upgrade. */
function existing(tid: string): string {
  if (tid === "new") throw new OutpostError("TERMINAL_NOT_FOUND", "`new` opens a terminal over a WebSocket only; POST …/terminals opens one over HTTP.");
  return tid;
}
