// Keeps the query cache true to the server: one global events stream for the whole UI
// invalidates the queries each event touches (a burst, such as a sandbox's stages, costs
// one refetch), and records each project's last activity for the projects list.
import { type QueryClient, type QueryKey, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, useSyncExternalStore } from "react";
import type { OutpostEvent } from "./client.ts";
import { followEvents } from "./events.ts";

/** The global stream starts with this many past events (for "last activity"). */
const GLOBAL_TAIL = 200;
const FLUSH_MS = 100;

/** The queries an event makes stale. */
export function staleKeys(event: OutpostEvent): QueryKey[] {
  const project = event.projectId;
  const sandboxId = typeof event.data.sandboxId === "string" ? event.data.sandboxId : undefined;
  const [noun, verb] = event.type.split(".");
  if (noun === "sandbox") return [["sandboxes"], ...(sandboxId ? [["sandbox", sandboxId]] : [])];
  if (noun === "egress") return [["egress", project]];
  // A database made, found missing, reset or dropped (here or by another tab, or the sandbox's start).
  if (noun === "database") return [["database", project]];
  if (noun === "project" && verb === "variable") return [["variables", project], ["project"]];
  if (noun === "project" && verb === "member") return [["members", project]];
  if (noun === "project") return [["projects"], ["project"], ...(verb === "deleted" ? [["sandboxes"]] : [])];
  // A run starting, ending or waiting changes its conversation's status in every list.
  const conversationId = typeof event.data.conversationId === "string" ? event.data.conversationId : undefined;
  // A run (the agent edits files, a checkpoint is taken) and git's own events change the sandbox's repository.
  if (noun === "run" && sandboxId) return [["conversations"], ["git", sandboxId], ...(conversationId ? [["conversation", conversationId]] : [])];
  if (noun === "git" && sandboxId) return [["git", sandboxId]];
  if (noun === "run" || noun === "conversation") return [["conversations"], ...(conversationId ? [["conversation", conversationId]] : [])];
  return [];
}

// Each project's latest event time, shared with the projects list.
let lastActivity: ReadonlyMap<string, string> = new Map();
const activityListeners = new Set<() => void>();

function recordActivity(events: OutpostEvent[]): void {
  const next = new Map(lastActivity);
  for (const event of events) {
    if (!event.projectId) continue;
    const seen = next.get(event.projectId);
    if (!seen || seen < event.createdAt) next.set(event.projectId, event.createdAt);
  }
  lastActivity = next;
  for (const listener of activityListeners) listener();
}

export function useLastActivity(): ReadonlyMap<string, string> {
  return useSyncExternalStore(
    (listener) => {
      activityListeners.add(listener);
      return () => activityListeners.delete(listener);
    },
    () => lastActivity,
  );
}

function batcher(client: QueryClient) {
  let pending: OutpostEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    const events = pending;
    pending = [];
    recordActivity(events);
    const seen = new Set<string>();
    for (const key of events.flatMap(staleKeys)) {
      const id = JSON.stringify(key);
      if (seen.has(id)) continue;
      seen.add(id);
      void client.invalidateQueries({ queryKey: key });
    }
  };
  return {
    add(event: OutpostEvent) {
      pending.push(event);
      timer ??= setTimeout(flush, FLUSH_MS);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

/** Mount once, inside the signed-in app. */
export function useGlobalEvents(): void {
  const client = useQueryClient();
  useEffect(() => {
    const abort = new AbortController();
    const batch = batcher(client);
    void followEvents({ query: { tail: String(GLOBAL_TAIL) }, onEvent: batch.add, signal: abort.signal });
    return () => {
      abort.abort();
      batch.stop();
    };
  }, [client]);
}

/** The latest events of one project, newest first (its own stream, with recent history). */
export function useProjectEvents(projectId: string | undefined, keep = 100): OutpostEvent[] {
  const [events, setEvents] = useState<OutpostEvent[]>([]);
  useEffect(() => {
    setEvents([]);
    if (!projectId) return;
    const abort = new AbortController();
    void followEvents({
      query: { project: projectId, tail: "50" },
      onEvent: (event) => setEvents((list) => [event, ...list].slice(0, keep)),
      signal: abort.signal,
    });
    return () => abort.abort();
  }, [projectId, keep]);
  return events;
}
