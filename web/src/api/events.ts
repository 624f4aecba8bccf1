// The events stream (GET /api/v1/events, Server-Sent Events) read with fetch rather than
// EventSource: event types are open-ended (`event:` is the type, and EventSource delivers
// only the types it was told of), a 401 must be seen as such, and a reconnect resumes after
// the last id seen, so nothing is missed or repeated (sse.ts does the following).
import type { OutpostEvent } from "./client.ts";
import { followSse } from "./sse.ts";

export interface FollowOptions {
  /** Query of the first request, e.g. { tail: "50", project: "prj_…" }; reconnects add `after`. */
  query: Record<string, string>;
  onEvent: (event: OutpostEvent) => void;
  signal: AbortSignal;
}

/** Follows the stream until `signal` aborts, reconnecting where it left off. */
export function followEvents({ query, onEvent, signal }: FollowOptions): Promise<void> {
  return followSse({
    url: (lastId) => {
      const params = new URLSearchParams(query);
      if (lastId) params.set("after", lastId);
      return `/api/v1/events?${params}`;
    },
    signal,
    persistent: true,
    onEvent: (_type, data) => onEvent(data as OutpostEvent),
  });
}
