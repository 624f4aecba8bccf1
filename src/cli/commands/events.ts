// `outpost events [--follow] [--project P] [--after ID]`: print the event log; with
// --follow keep streaming, reconnecting with Last-Event-ID when the connection drops.
import type { Event } from "../../schemas/events.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, readSse, resolveConnection } from "../client.ts";

export const eventsHelp = "outpost events [--follow] [--project ID|NAME] [--after EVENT_ID]";

export async function events(argv: string[]): Promise<number> {
  const { values } = parse(argv, { follow: { type: "boolean", short: "f", default: false }, project: { type: "string" }, after: { type: "string" } });
  if (values.after !== undefined && !/^\d{1,15}$/.test(values.after)) throw new UsageError("--after takes an event id (a whole number)");
  const api = new ApiClient(resolveConnection(values));
  let lastId = values.after;
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());

  while (!stop.signal.aborted) {
    const query = new URLSearchParams({ follow: String(values.follow) });
    if (values.project) query.set("project", values.project);
    try {
      const body = await api.stream("GET", `/api/v1/events?${query}`, undefined, lastId ? { "last-event-id": lastId } : {}, stop.signal);
      for await (const message of readSse(body)) {
        if (message.event === "error") throw new ApiError(503, "STREAM_ERROR", (message.data as { message: string }).message);
        if (message.id) lastId = message.id;
        const event = message.data as Event;
        if (values.json) process.stdout.write(`${JSON.stringify(event)}\n`);
        else process.stdout.write(`${event.id}\t${event.createdAt}\t${event.type}\t${JSON.stringify(event.data)}\n`);
      }
      if (!values.follow) return 0;
    } catch (error) {
      if (stop.signal.aborted) return 0;
      // A broken connection while following: come back and resume where we were.
      if (!values.follow || (error instanceof ApiError && error.status >= 400 && error.status < 500)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
  return 0;
}
