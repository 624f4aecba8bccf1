// Reading one run's events (GET /runs/{rid}/events, SSE) to its end. The connection may
// drop (a proxy's idle cut, a server restart): it is opened again with Last-Event-ID, so
// nothing is missed or shown twice.
import { type ApiClient, ApiError, readSse } from "../client.ts";
import type { ChatEvent } from "./chat-format.ts";
import { TERMINAL_STATUSES } from "./chat-format.ts";

/** Connection attempts in a row that may fail before giving up (each waits a second). */
const MAX_FAILED_ATTEMPTS = 10;

/**
 * Calls `onEvent` for each event of the run, in order, until its final status event; returns
 * that status, or undefined when `signal` was aborted first. With `follow: false` it reads
 * what exists and returns (the final status, if the run is over).
 */
export async function followRunEvents(
  api: ApiClient,
  runId: string,
  signal: AbortSignal,
  onEvent: (event: ChatEvent) => void,
  options: { follow?: boolean; after?: string } = {},
): Promise<string | undefined> {
  const follow = options.follow ?? true;
  let lastId = options.after;
  let failures = 0;
  while (!signal.aborted) {
    try {
      const query = follow ? "" : "?follow=false";
      const body = await api.stream(
        "GET",
        `/api/v1/runs/${encodeURIComponent(runId)}/events${query}`,
        undefined,
        lastId ? { "last-event-id": lastId } : {},
        signal,
      );
      for await (const message of readSse(body)) {
        const event = message.data as ChatEvent;
        // A stream that fails on the server says so with an `error` that is no run event.
        if (message.event === "error" && typeof event?.type !== "string") {
          throw new ApiError(503, "STREAM_ERROR", String((message.data as { message?: unknown }).message ?? "the event stream failed"));
        }
        failures = 0;
        if (message.id) lastId = message.id;
        onEvent(event);
        if (event.type === "status" && TERMINAL_STATUSES.includes(String(event.status))) return String(event.status);
      }
      if (!follow) return undefined;
      // The server ended the stream before the run did (it restarted): come back.
      throw new ApiError(0, "STREAM_BROKEN", `the event stream of ${runId} ended before the run did`);
    } catch (error) {
      if (signal.aborted) return undefined;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) throw error;
      if (!follow || ++failures >= MAX_FAILED_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  return undefined;
}
