// Reading a run's event stream in tests: every event until the run's final status.
import { collectSse, type SseEvent } from "./sse.ts";

const isEnd = (e: SseEvent) => e.event === "status" && ["succeeded", "failed", "cancelled"].includes(e.data.status);

export function runEvents(s: { url: string; token: string }, runId: string, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  return collectSse(`${s.url}/api/v1/runs/${runId}/events`, { token: s.token, headers, until: (events) => events.some(isEnd) });
}
