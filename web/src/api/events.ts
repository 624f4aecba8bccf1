// The events stream (GET /api/v1/events, Server-Sent Events) read with fetch rather than
// EventSource: event types are open-ended (`event:` is the type, and EventSource delivers
// only the types it was told of), a 401 must be seen as such, and a reconnect resumes after
// the last id seen, so nothing is missed or repeated.
import { createParser } from "eventsource-parser";
import type { OutpostEvent } from "./client.ts";
import { connection } from "./connection.ts";

export interface FollowOptions {
  /** Query of the first request, e.g. { tail: "50", project: "prj_…" }; reconnects add `after`. */
  query: Record<string, string>;
  onEvent: (event: OutpostEvent) => void;
  signal: AbortSignal;
}

/** Reconnect delays: quick at first, then every 10 s at most. */
const backoffMs = (failures: number) => Math.min(10_000, 500 * 2 ** Math.min(failures, 5));

/** Follows the stream until `signal` aborts, reconnecting where it left off. */
export async function followEvents({ query, onEvent, signal }: FollowOptions): Promise<void> {
  let lastId: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const params = new URLSearchParams(query);
      if (lastId) params.set("after", lastId);
      const response = await fetch(`/api/v1/events?${params}`, { headers: { accept: "text/event-stream" }, signal });
      if (response.status === 401) {
        connection.sessionLost();
        return;
      }
      if (!response.ok || !response.body) throw new Error(`the events stream answered ${response.status}`);
      failures = 0;
      const parser = createParser({
        onEvent(message) {
          if (message.event === "error") return; // the server ends the stream after it; we reconnect
          if (message.id) lastId = message.id;
          onEvent(JSON.parse(message.data) as OutpostEvent);
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch (error) {
      if (signal.aborted) return;
      // fetch rejects with a TypeError when the server cannot be reached at all.
      if (error instanceof TypeError) connection.unreachable();
    }
    failures++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, backoffMs(failures));
      signal.addEventListener(
        "abort",
        () => {
          clearTimeout(timer);
          resolve();
        },
        { once: true },
      );
    });
  }
}
