// Reads a Server-Sent Events response in tests: collects events until a predicate is met,
// then closes the connection. No sleeps: it returns as soon as the events arrive.
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
  if (!response.ok) throw new Error(`SSE request failed: ${response.status} ${await response.text()}`);
  const events: SseEvent[] = [];
  if (options.until(events)) {
    controller.abort();
    return events;
  }
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let boundary = buffer.indexOf("\n\n");
      while (boundary !== -1) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf("\n\n");
        const event: SseEvent = { event: "message", data: undefined };
        const data: string[] = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith(":")) continue;
          const [field, ...rest] = line.split(":");
          const value = rest.join(":").replace(/^ /, "");
          if (field === "id") event.id = value;
          if (field === "event") event.event = value;
          if (field === "data") data.push(value);
        }
        if (data.length === 0) continue;
        event.data = JSON.parse(data.join("\n"));
        events.push(event);
        if (options.until(events)) {
          controller.abort();
          return events;
        }
      }
    }
  } catch (error) {
    if ((error as Error).name !== "AbortError") throw error;
  }
  return events;
}
