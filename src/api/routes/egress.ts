// A project's way out, read back: GET /projects/{id}/egress (every connection its sandboxes
// asked for, allowed or not; `follow=true` streams new ones as SSE) and GET
// /projects/{id}/usage (model tokens through the gateway this month, against the budget).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, projectRef } from "../../schemas/common.ts";
import { egressQuery, egressRecord, usageSummary } from "../../schemas/egress.ts";
import type { EgressRow, EgressService } from "../../services/egress.ts";
import type { EgressRecorder } from "../../services/egress-recorder.ts";
import { currentPrincipal } from "../auth.ts";
import { resumeAfter, SseStream } from "../sse.ts";
import { StreamWaker } from "../stream-waker.ts";

/** Re-read on this timer too, for records written by another replica. */
const FOLLOW_POLL_MS = 2000;

export function egressRoutes(app: FastifyInstance, egress: EgressService, recorder: EgressRecorder): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const tags = ["egress"];

  r.get(
    "/api/v1/projects/:id/egress",
    {
      schema: {
        tags,
        summary: "The connections a project's sandboxes asked for",
        description:
          "Every decision of the egress proxy, oldest first (kept 30 days). Bytes and duration are filled in when a connection ends. With follow=true, an SSE stream of `egress` events (id: the record's id).",
        params: projectRef,
        querystring: egressQuery,
        response: { 200: z.object({ items: z.array(egressRecord), nextAfter: z.number().int() }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      let after = resumeAfter(request.headers["last-event-id"], request.query.after);
      // `tail`: the recent record (the web UI's egress log) without reading 30 days of it.
      if (request.query.tail !== undefined && after === 0) after = await egress.startOfLast(principal, request.params.id, request.query.tail);
      const first = await egress.log(principal, request.params.id, { afterId: after, limit: request.query.limit });
      if (request.query.follow !== "true") {
        const items = first.items.map(present);
        return { items, nextAfter: items.at(-1)?.id ?? after };
      }
      const stream = new SseStream(reply, request.id);
      let last = after;
      // Woken when the recorder has written a batch of decisions (this replica's), else polled.
      const waker = new StreamWaker({ subscribe: (onWake) => recorder.onFlushed(onWake) }, stream.signal, FOLLOW_POLL_MS);
      try {
        let rows = first.items;
        while (!stream.signal.aborted) {
          for (const row of rows) {
            await stream.send({ id: row.id, type: "egress", data: present(row) });
            last = row.id;
          }
          if (rows.length < request.query.limit) await waker.wait();
          waker.beforeRead();
          rows = await egress.more(first.projectId, last, request.query.limit);
        }
      } finally {
        waker.close();
        stream.end();
      }
      return reply;
    },
  );

  r.get(
    "/api/v1/projects/:id/usage",
    {
      schema: {
        tags,
        summary: "Model usage this month",
        description:
          "Tokens counted by the model gateway from the providers' answers, per provider and model, and what is left of the project's monthly budget.",
        params: projectRef,
        response: { 200: usageSummary, ...errorResponses },
      },
    },
    async (request) => {
      const summary = await egress.usage(currentPrincipal(request), request.params.id);
      return { ...summary, since: summary.since.toISOString() };
    },
  );
}

function present(row: EgressRow): z.infer<typeof egressRecord> {
  return {
    id: row.id,
    sandboxId: row.sandboxId,
    host: row.host,
    port: row.port,
    method: row.method,
    allowed: row.allowed,
    rule: row.rule,
    reason: row.reason,
    address: row.address,
    bytesUp: row.bytesUp,
    bytesDown: row.bytesDown,
    startedAt: row.startedAt.toISOString(),
    durationMs: row.durationMs,
  };
}
