// Watch streams: one JSON event per line over a chunked response, as the API server sends
// them. A watch first catches up (every current object as ADDED, or the history after the
// resourceVersion it resumes from), then follows live changes. Resuming from a
// resourceVersion older than the kept history gets an ERROR event with a 410 Expired
// Status and the end of the stream, which is what makes clients relist.
import type { IncomingMessage, ServerResponse } from "node:http";
import { expired } from "./errors.ts";
import { apiVersionOf } from "./resources.ts";
import type { Matcher } from "./selectors.ts";
import type { ObjectStore } from "./store.ts";
import type { KubeObject, ResourceType, StoredChange } from "./types.ts";

export interface WatchRequest {
  key: string;
  type: ResourceType;
  namespace?: string;
  matches: Matcher;
  /** "" or "0": start with every current object */
  resourceVersion: string;
  timeoutSeconds?: number;
  bookmarks: boolean;
}

interface OpenWatch {
  end(abrupt: boolean): void;
  bookmark(): void;
}

export class WatchHub {
  private readonly open = new Set<OpenWatch>();

  constructor(private readonly store: ObjectStore) {}

  get count(): number {
    return this.open.size;
  }

  serve(request: WatchRequest, req: IncomingMessage, res: ServerResponse): void {
    const inScope = (object: KubeObject) => (!request.namespace || object.metadata.namespace === request.namespace) && request.matches(object);
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    // How a change looks through this watch's selectors: an object that stops matching
    // leaves the watcher's view (DELETED), one that starts matching enters it (ADDED).
    const forward = (change: StoredChange) => {
      if (change.key !== request.key) return;
      const now = inScope(change.object);
      const before = change.type === "MODIFIED" && change.previous !== undefined && inScope(change.previous);
      if (change.type === "MODIFIED" && before && !now) send("DELETED", change.object);
      else if (change.type === "MODIFIED" && !before && now) send("ADDED", change.object);
      else if (now) send(change.type, change.object);
    };

    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    res.flushHeaders();

    let unsubscribe = () => {};
    let timer: NodeJS.Timeout | undefined;
    const watch: OpenWatch = {
      end: (abrupt) => {
        if (!this.open.delete(watch)) return;
        unsubscribe();
        clearTimeout(timer);
        if (abrupt) res.destroy();
        else res.end();
      },
      bookmark: () => {
        if (!request.bookmarks) return;
        send("BOOKMARK", {
          kind: request.type.kind,
          apiVersion: apiVersionOf(request.type),
          metadata: { resourceVersion: String(this.store.resourceVersion) },
        });
      },
    };
    this.open.add(watch);
    res.on("close", () => watch.end(false));

    if (request.resourceVersion === "" || request.resourceVersion === "0") {
      for (const object of this.store.list(request.key, request.namespace, request.matches)) send("ADDED", object);
    } else {
      const from = Number(request.resourceVersion);
      const changes = this.store.changesSince(from);
      if (!changes) {
        send("ERROR", expired(`too old resource version: ${from} (${this.store.oldestResumable})`).body);
        watch.end(false);
        return;
      }
      for (const change of changes) forward(change);
    }
    watch.bookmark();
    unsubscribe = this.store.subscribe(forward);
    if (request.timeoutSeconds !== undefined) timer = setTimeout(() => watch.end(false), request.timeoutSeconds * 1000);
    req.on("error", () => watch.end(true));
  }

  /** Ends every open watch: cleanly (the server closed the stream, as it does on a timeout
   *  or restart) or abruptly (the connection broke). */
  dropAll(abrupt: boolean): void {
    for (const watch of [...this.open]) watch.end(abrupt);
  }

  /** Sends a BOOKMARK to every open watch that asked for them (allowWatchBookmarks). */
  bookmarkAll(): void {
    for (const watch of this.open) watch.bookmark();
  }
}
