// Background processes in a sandbox (dev servers, watchers): start, list, get, logs (SSE,
// resumable with Last-Event-ID = record seq), signal. The supervisor journals them on disk
// inside the sandbox, so they and their logs outlive the control plane and dropped clients.
// Processes live under their sandbox (`/sandboxes/{id}/processes/{processId}`) because
// their ids are the supervisor's, not the store's.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, idParam } from "../../schemas/common.ts";
import { logsQuery, processBody, processParams, processResource, signalBody } from "../../schemas/sandboxes.ts";
import type { SandboxCommands } from "../../services/sandbox-commands.ts";
import type { LogRecord } from "../../supervisor/protocol.ts";
import { currentPrincipal } from "../auth.ts";
import { cleanBase64, resumeAfter, SseStream } from "../sse.ts";

export function processRoutes(app: FastifyInstance, commands: SandboxCommands): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["processes"];

  r.post(
    "/api/v1/sandboxes/:id/processes",
    { schema: { tags, summary: "Start a background process", params: idParam, body: processBody, response: { 201: processResource, ...errorResponses } } },
    async (request, reply) => {
      const started = await commands.startProcess(currentPrincipal(request), request.params.id, request.body);
      reply.code(201);
      return started;
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/processes",
    {
      schema: {
        tags,
        summary: "List background processes",
        params: idParam,
        response: { 200: z.object({ items: z.array(processResource) }), ...errorResponses },
      },
    },
    async (request) => {
      return commands.listProcesses(currentPrincipal(request), request.params.id);
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/processes/:processId",
    { schema: { tags, summary: "Get a background process", params: processParams, response: { 200: processResource, ...errorResponses } } },
    async (request) => {
      return commands.getProcess(currentPrincipal(request), request.params.id, request.params.processId);
    },
  );

  r.post(
    "/api/v1/sandboxes/:id/processes/:processId/signal",
    {
      schema: {
        tags,
        summary: "Signal a background process (its whole process group)",
        params: processParams,
        body: signalBody,
        response: { 202: processResource, ...errorResponses },
      },
    },
    async (request, reply) => {
      const signalled = await commands.signalProcess(currentPrincipal(request), request.params.id, request.params.processId, request.body.signal);
      reply.code(202);
      return signalled;
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/processes/:processId/logs",
    {
      schema: {
        tags,
        summary: "Stream a process's output (Server-Sent Events)",
        description:
          "`log` events (`id:` is the record's seq; `data`: { seq, stream, data (base64), ts }), then one `exit` event once the process has ended and everything was sent. `follow=false` ends after the records so far. Resume with Last-Event-ID.",
        params: processParams,
        querystring: logsQuery,
        produces: ["text/event-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const after = resumeAfter(request.headers["last-event-id"], request.query.after);
      const follow = request.query.follow !== "false";
      const controller = new AbortController();
      const records = await commands.processLogs(currentPrincipal(request), request.params.id, request.params.processId, {
        after,
        follow,
        signal: controller.signal,
      });
      const stream = new SseStream(reply, request.id);
      stream.signal.addEventListener("abort", () => controller.abort());
      try {
        for await (const record of records) {
          if ("seq" in record) await stream.sendJson({ id: record.seq, type: "log", json: logRecordJson(record) });
          else await stream.send({ type: "exit", data: record });
        }
      } catch (error) {
        if (!controller.signal.aborted) await stream.send({ type: "error", data: commands.describe(error) });
      } finally {
        stream.end();
      }
    },
  );
}

/**
 * One log record as JSON, built by hand: the supervisor's client has checked that seq is an
 * integer and stream one of three words; data is re-encoded and ts escaped like any string.
 */
function logRecordJson(record: LogRecord): string {
  return `{"seq":${record.seq},"stream":"${record.stream}","data":"${cleanBase64(record.data)}","ts":${JSON.stringify(record.ts)}}`;
}
