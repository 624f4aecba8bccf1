// Reads a Server-Sent Events response in tests with the CLI's own SSE parser: collects
// events until a predicate is met, then closes the connection. No sleeps: it returns as
// soon as the events arrive.
import { readSse } from "../../src/cli/client.ts";

export interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

export async function collectSse(
  url: string,
  options: { token: string; headers?: Record<string, string>; until: (events: SseEvent[]) => boolean; signal?: AbortSignal },
): Promise<SseEvent[]> {
  const controller = new AbortController();
  options.signal?.addEventListener("abort", () => controller.abort());
  const response = await fetch(url, { headers: { authorization: `Bearer ${options.token}`, ...options.headers }, signal: controller.signal });
  if (!response.ok || !response.body) throw new Error(`SSE request failed: ${response.status} ${await response.text()}`);
  const events: SseEvent[] = [];
  if (options.until(events)) {
    controller.abort();
    return events;
  }
  try {
    for await (const event of readSse(response.body as unknown as AsyncIterable<Uint8Array>)) {
      events.push(event);
      if (options.until(events)) {
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if ((error as Error).name !== "AbortError") throw error;
  }
  return events;
}
