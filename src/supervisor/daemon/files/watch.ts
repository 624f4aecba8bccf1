// GET /v1/files/watch?path=: changes in one folder (not its subfolders) while the request is
// open, as NDJSON: `ready` once the kernel watches it (inotify), then `changes` lines with
// the current entry of each name that changed (null: it is gone), `overflow` when more
// changed than is worth listing (list the folder again), and a last `end` line when the
// folder itself was deleted or moved away.
//
// Bounded: changes are gathered for a short while and sent per name (a file written in
// 1000 chunks is one change), at most MAX_PENDING names wait at once (beyond: overflow),
// lines carry at most MAX_WATCH_BATCH changes, and a supervisor holds MAX_WATCHES watches.
// While the control plane's stream is full nothing is written and names only gather.
import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, stat } from "node:fs/promises";
import { NDJSON_CONTENT_TYPE, type WatchChange, type WatchLine } from "../../protocol.ts";
import { MAX_WATCH_BATCH } from "../../protocol-schemas.ts";
import { SupervisorError } from "../errors.ts";
import type { Handler } from "../http-types.ts";
import { writeLine } from "../respond.ts";
import { type Confinement, fdPath } from "./confine.ts";
import { entryIn } from "./entries.ts";
import { onlyParams } from "./query.ts";

/** How long changes gather before they are sent. */
const COALESCE_MS = 100;
const MAX_PENDING = 1000;
/** inotify instances and watches are limited per user; the sandbox's own programs need some. */
const MAX_WATCHES = 64;

export class WatchLimiter {
  active = 0;
}

export function watchHandler(confinement: Confinement, limiter: WatchLimiter): Handler {
  return async (request, response) => {
    onlyParams(request.query, ["path"]);
    const absolute = confinement.lexical(request.query.get("path"));
    const dir = await confinement.openDirectory(absolute);
    if (limiter.active >= MAX_WATCHES) {
      await dir.close();
      throw new SupervisorError("RATE_LIMITED", `The sandbox already has ${MAX_WATCHES} folders watched; close some first.`);
    }
    limiter.active++;
    let watcher: FSWatcher | undefined;
    try {
      const feed = new ChangeFeed(dir);
      // The folder's descriptor, not its path: a watch follows the folder itself.
      watcher = watch(fdPath(dir), { persistent: false }, (_event, name) => feed.changed(name === null ? null : String(name)));
      watcher.on("error", () => feed.stop("the folder can no longer be watched"));
      request.signal.addEventListener("abort", () => feed.stop(null), { once: true });
      response.start(200, { "content-type": NDJSON_CONTENT_TYPE, "cache-control": "no-store" });
      await writeLine(response, { type: "ready", path: absolute } satisfies WatchLine);
      for await (const line of feed.lines(confinement, absolute)) {
        if (response.closed) break;
        await writeLine(response, line);
      }
      response.end();
    } finally {
      watcher?.close();
      limiter.active--;
      await dir.close();
    }
  };
}

class ChangeFeed {
  #pending = new Set<string>();
  #overflow = false;
  #stopped: string | null | undefined;
  #wake: (() => void) | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(private readonly dir: FileHandle) {}

  /** From the watcher: `name` changed (null: the kernel dropped events). */
  changed(name: string | null): void {
    if (name === null || this.#pending.size >= MAX_PENDING) this.#overflow = true;
    else this.#pending.add(name);
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      this.#wake?.();
    }, COALESCE_MS);
  }

  /** Ends the feed; with a reason, an `end` line says it. */
  stop(reason: string | null): void {
    if (this.#stopped !== undefined) return;
    this.#stopped = reason;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
  }

  async *lines(confinement: Confinement, absolute: string): AsyncGenerator<WatchLine> {
    for (;;) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        if (this.#stopped !== undefined || (this.#timer === null && (this.#pending.size > 0 || this.#overflow))) resolve();
      });
      this.#wake = null;
      if (this.#stopped !== undefined) break;
      const gone = await this.#gone(confinement, absolute);
      if (gone) {
        this.#stopped = gone;
        break;
      }
      if (this.#overflow) {
        this.#overflow = false;
        this.#pending.clear();
        yield { type: "overflow" };
        continue;
      }
      const names = [...this.#pending];
      this.#pending.clear();
      for (let start = 0; start < names.length; start += MAX_WATCH_BATCH) {
        const changes: WatchChange[] = [];
        for (const name of names.slice(start, start + MAX_WATCH_BATCH)) {
          const entry = await entryIn(this.dir, name);
          // Events about the folder itself carry the watched path's last part: the descriptor's number.
          if (entry === null && name === String(this.dir.fd)) continue;
          changes.push({ name, entry });
        }
        if (changes.length > 0) yield { type: "changes", changes };
      }
    }
    if (this.#stopped) yield { type: "end", reason: this.#stopped };
  }

  /** Why the folder cannot be watched any more: deleted, or no longer at its path. */
  async #gone(confinement: Confinement, absolute: string): Promise<string | null> {
    const own = await this.dir.stat();
    if (own.nlink === 0) return "the folder was deleted";
    const there = await confinement.resolve(absolute).then(stat, () => null);
    if (!there || there.ino !== own.ino || there.dev !== own.dev) return "the folder was moved or deleted";
    return null;
  }
}
