// Reading the global event log for one user: the events of projects they are a member of
// (store/events.ts decides membership), after a given id, in id order. Streaming and
// wake-ups stay in the API route and the event hub.
import type pg from "pg";
import type { Principal } from "../domain/authorization.ts";
import { type EventRow, idBeforeLast, listEvents } from "../store/events.ts";

export type { EventRow };

export class EventService {
  constructor(private readonly pool: pg.Pool) {}

  /** Up to `limit` events visible to `principal` with id > afterId, optionally of one project. */
  list(principal: Principal, query: { afterId: number; projectId?: string; limit: number }): Promise<EventRow[]> {
    return listEvents(this.pool, { userId: principal.userId, afterId: query.afterId, projectId: query.projectId, limit: query.limit });
  }

  /** Where a stream starts that opens with the last `count` events visible to `principal`. */
  startOfLast(principal: Principal, count: number, projectId?: string): Promise<number> {
    return idBeforeLast(this.pool, { userId: principal.userId, projectId }, count);
  }
}
