// Follows a conversation's events (GET /conversations/{cid}/events, SSE) for as long as it is
// shown: the stream stays open across runs, and a dropped connection comes back by itself
// after the last seq seen (sse.ts), so nothing is missed or shown twice. Events are applied
// in small batches (a streamed answer is many tiny deltas), and a change of a run's status,
// or a run this page has not seen, refreshes the conversation and its list.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { ApiError } from "../../api/client.ts";
import { followSse } from "../../api/sse.ts";
import { applyEvents, EMPTY_TRANSCRIPT, type TranscriptState } from "./transcript.ts";
import type { RunEvent } from "./types.ts";

const BATCH_MS = 40;

export interface ConversationStream {
  transcript: TranscriptState;
  /** Connected (a reconnect shows as not live for its moment). */
  live: boolean;
  error: ApiError | null;
}

export function useConversationStream(conversationId: string, knownRunIds: ReadonlySet<string>): ConversationStream {
  const client = useQueryClient();
  const [transcript, setTranscript] = useState<TranscriptState>(EMPTY_TRANSCRIPT);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  // Read inside the follower without restarting it when the detail refreshes.
  const known = useRef(knownRunIds);
  known.current = knownRunIds;

  useEffect(() => {
    setTranscript(EMPTY_TRANSCRIPT);
    setError(null);
    const abort = new AbortController();
    let pending: RunEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    let refresh = false;
    const flush = () => {
      timer = undefined;
      const batch = pending;
      pending = [];
      setTranscript((state) => applyEvents(state, batch));
      if (refresh) {
        refresh = false;
        void client.invalidateQueries({ queryKey: ["conversation", conversationId] });
        void client.invalidateQueries({ queryKey: ["conversations"] });
      }
    };
    void followSse({
      url: (lastId) => `/api/v1/conversations/${encodeURIComponent(conversationId)}/events${lastId ? `?after=${encodeURIComponent(lastId)}` : ""}`,
      signal: abort.signal,
      onOpen: () => {
        setLive(true);
        setError(null);
      },
      onError: (problem) => {
        setLive(false);
        setError(problem);
      },
      onEvent: (_type, data) => {
        const event = data as RunEvent;
        if (typeof event?.seq !== "number") return;
        pending.push(event);
        if (event.type === "status" || event.type === "usage" || event.type === "approval" || !known.current.has(event.runId)) refresh = true;
        timer ??= setTimeout(flush, BATCH_MS);
      },
    }).finally(() => setLive(false));
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [client, conversationId]);

  return { transcript, live, error };
}
