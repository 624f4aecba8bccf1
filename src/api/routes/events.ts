// GET /api/v1/events: the global event stream as SSE. Resumes after `Last-Event-ID` (or
// `?after=`) with nothing missed and nothing repeated: each pass reads `id > last sent`
// from the table, and passes run on every NOTIFY wake-up plus a slow safety timer.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { describeError } from "../../domain/error-registry.ts";
import { OutpostError } from "../../domain/errors.ts";
import { errorResponses } from "../../schemas/common.ts";
import type { Event } from "../../schemas/events.ts";
import { eventsQuery } from "../../schemas/events.ts";
import type { EventHub } from "../../services/event-hub.ts";
import type { EventRow, EventService } from "../../services/events.ts";
import type { ProjectService } from "../../services/projects.ts";
import { currentPrincipal } from "../auth.ts";
import { resumeAfter, SseStream } from "../sse.ts";
import { StreamWaker } from "../stream-waker.ts";

const BATCH = 500;
/** Re-read even without a notification, in case one was lost. */
export const DEFAULT_SAFETY_POLL_MS = 5_000;

export const presentEvent = (row: EventRow): Event => ({
  id: row.id,
  type: row.type,
  projectId: row.projectId,
  data: row.data,
  createdAt: row.createdAt.toISOString(),
});

export function eventRoutes(app: FastifyInstance, deps: { events: EventService; hub: EventHub; projects: ProjectService; safetyPollMs?: number }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/v1/events",
    {
      schema: {
        tags: ["events"],
        summary: "Stream events (Server-Sent Events)",
        description:
          "The events of the projects you are a member of. `event:` is the type (noun.verb), `id:` the event id, `data:` the Event as JSON. Send `Last-Event-ID` to resume.",
        querystring: eventsQuery,
        produces: ["text/event-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      // Resolve the filter before the stream opens, so a bad project is a plain 404.
      const projectId = request.query.project ? await deps.projects.resolveId(principal, request.query.project) : undefined;
      let after = resumeAfter(request.headers["last-event-id"], request.query.after);
      // `tail`: a view that shows recent history (the web UI's activity) without reading it all.
      const resuming = request.headers["last-event-id"] !== undefined || request.query.after !== undefined;
      if (request.query.tail !== undefined && !resuming) after = await deps.events.startOfLast(principal, request.query.tail, projectId);
      const follow = request.query.follow !== "false";

      const stream = new SseStream(reply, request.id);
      const waker = new StreamWaker(deps.hub, stream.signal, deps.safetyPollMs ?? DEFAULT_SAFETY_POLL_MS);
      try {
        while (!stream.signal.aborted) {
          waker.beforeRead();
          const rows = await deps.events.list(principal, { afterId: after, projectId, limit: BATCH });
          for (const row of rows) {
            await stream.send({ id: row.id, type: row.type, data: presentEvent(row) });
            after = row.id;
          }
          if (rows.length === BATCH) continue;
          if (!follow) break;
          await waker.wait();
        }
      } catch (error) {
        request.log.warn({ err: (error as Error).message }, "event stream ended by an error");
        await stream.send({
          type: "error",
          data: describeError(new OutpostError("DATABASE_UNAVAILABLE", "The event stream lost the database; reconnect with Last-Event-ID.")),
        });
      } finally {
        waker.close();
        stream.end();
      }
    },
  );
}
