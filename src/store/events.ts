// The append-only global event log. Appends happen inside the caller's transaction, so an
// event exists exactly when the change it describes committed. Ids are taken under a
// transaction-scoped advisory lock: a later id can then never commit before an earlier
// one, and a reader that asks for `id > last seen` misses nothing. NOTIFY is transactional
// too: listeners hear of the event only once it is visible.
import type { Queryable } from "./database.ts";

const EVENT_ORDER_LOCK = 7_300_002;
export const EVENTS_CHANNEL = "outpost_events";

export interface EventRow {
  id: number;
  type: string;
  ownerId: string;
  projectId: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}

export interface NewEvent {
  type: string;
  /** The user who acted (the reconciler: the sandbox's creator). */
  ownerId: string;
  projectId?: string | null;
  data: Record<string, unknown>;
}

export async function appendEvent(tx: Queryable, event: NewEvent): Promise<EventRow> {
  await tx.query("select pg_advisory_xact_lock($1)", [EVENT_ORDER_LOCK]);
  const { rows } = await tx.query(
    `insert into events (type, owner_id, project_id, data) values ($1, $2, $3, $4)
     returning id, type, owner_id as "ownerId", project_id as "projectId", data, created_at as "createdAt"`,
    [event.type, event.ownerId, event.projectId ?? null, JSON.stringify(event.data)],
  );
  const row = rows[0] as EventRow;
  await tx.query("select pg_notify($1, $2)", [EVENTS_CHANNEL, String(row.id)]);
  return row;
}

export interface EventQuery {
  /** Whose stream: the events of projects they are a member of (and of deleted ones they acted in). */
  userId: string;
  afterId: number;
  projectId?: string;
  limit: number;
}

export async function listEvents(db: Queryable, query: EventQuery): Promise<EventRow[]> {
  // Membership decides while the project exists. Once it is gone (and its members with it),
  // owner_id, the user who acted, keeps e.g. `project.deleted` in the deleter's stream.
  const { rows } = await db.query(
    `select id, type, owner_id as "ownerId", project_id as "projectId", data, created_at as "createdAt"
       from events e
      where id > $2 and ($3::text is null or project_id = $3)
        and (project_id in (select m.project_id from project_members m where m.user_id = $1)
             or (owner_id = $1 and not exists (select 1 from projects p where p.id = e.project_id)))
      order by id
      limit $4`,
    [query.userId, query.afterId, query.projectId ?? null, query.limit],
  );
  return rows as EventRow[];
}

/** The id after which the last `count` events of `query` follow (0: fewer exist). */
export async function idBeforeLast(db: Queryable, query: Omit<EventQuery, "afterId" | "limit">, count: number): Promise<number> {
  const { rows } = await db.query(
    `select id from events e
      where ($2::text is null or project_id = $2)
        and (project_id in (select m.project_id from project_members m where m.user_id = $1)
             or (owner_id = $1 and not exists (select 1 from projects p where p.id = e.project_id)))
      order by id desc
      offset $3 limit 1`,
    [query.userId, query.projectId ?? null, count],
  );
  return rows[0] ? Number((rows[0] as { id: number | string }).id) : 0;
}
