// A Server-Sent Events route of the API (a folder's watch, a sandbox's ports) followed with
// fetch rather than EventSource, for the same reasons as events.ts: a 401 or a refusal in
// the documented error shape must be seen as such, not as an endless reconnect. Dropped
// connections are reopened with backoff. Streams with ids resume after the last one seen
// (`url` as a function of it, e.g. the events stream); the others start each new connection
// with the whole truth (a snapshot, the full port list).
import { createParser } from "eventsource-parser";
import { ApiError, type ErrorBody } from "./client.ts";
import { connection } from "./connection.ts";

export interface FollowSseOptions {
  /**
   * A path on this origin with its query, e.g. `/api/v1/sandboxes/sbx_…/ports?follow=true`;
   * or a function of the last event id seen, for streams that resume.
   */
  url: string | ((lastId: string | undefined) => string);
  signal: AbortSignal;
  /** Each event but `error`, with its JSON data parsed. */
  onEvent: (type: string, data: unknown) => void;
  /** The stream is connected (again). */
  onOpen?: () => void;
  /**
   * The server refused or broke the stream: an ApiError (its answer, or its `error` event).
   * Refusals that asking again will not change (4xx) end the follow; others are retried.
   */
  onError?: (error: ApiError) => void;
  /** Reconnect after any refusal or error event but a 401 (the global events stream). */
  persistent?: boolean;
}

/** Reconnect delays: quick at first, then every 10 s at most. */
const backoffMs = (failures: number) => Math.min(10_000, 500 * 2 ** Math.min(failures, 5));

/** Follows the stream until `signal` aborts or the server refuses it for good. */
export async function followSse({ url, signal, onEvent, onOpen, onError, persistent = false }: FollowSseOptions): Promise<void> {
  let failures = 0;
  let lastId: string | undefined;
  while (!signal.aborted) {
    try {
      const response = await fetch(typeof url === "string" ? url : url(lastId), { headers: { accept: "text/event-stream" }, signal });
      if (response.status === 401) {
        connection.sessionLost();
        return;
      }
      if (!response.ok || !response.body) {
        const body = (await response.json().catch(() => undefined)) as { error?: ErrorBody } | undefined;
        const error = new ApiError(response.status, body?.error);
        onError?.(error);
        if (response.status < 500 && !persistent) return;
        throw error;
      }
      failures = 0;
      onOpen?.();
      let final = false;
      const parser = createParser({
        onEvent(message) {
          const data = message.data ? (JSON.parse(message.data) as unknown) : null;
          // The stream's own failure has no id; an `error` with one is a stored event of
          // the stream (an agent run's error event), delivered like any other.
          if (message.event === "error" && !message.id) {
            // The server ends the stream after it; whether to come back depends on the code.
            const body = data as ErrorBody & { retryable?: boolean };
            onError?.(new ApiError(502, body));
            final = body.retryable === false && !persistent;
            return;
          }
          if (message.id) lastId = message.id;
          onEvent(message.event ?? "message", data);
        },
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
      if (final) return;
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
