// Files in a sandbox (docs/api.md, "Files"), through its supervisor:
//   GET    /sandboxes/{id}/files?path=            what a path is; a folder with its entries
//   DELETE /sandboxes/{id}/files?path=&recursive=
//   GET    /sandboxes/{id}/files/content?path=    the bytes (Range: bytes=… → 206)
//   PUT    /sandboxes/{id}/files/content?path=&parents=&overwrite=&mode=   the raw body becomes the file
//   POST   /sandboxes/{id}/files/mkdir  { path, parents? }
//   POST   /sandboxes/{id}/files/move   { from, to, overwrite? }
//   GET    /sandboxes/{id}/files/archive?path=    a folder as a tar archive
//   PUT    /sandboxes/{id}/files/archive?path=    a tar archive in the body, unpacked there
//   GET    /sandboxes/{id}/files/watch?path=      SSE: the folder's snapshot, then its changes
// Bytes stream both ways with backpressure: an upload is read from the socket only as fast
// as the sandbox's disk takes it, a download only as fast as the client reads it, so the
// 1 MiB JSON body limit does not apply to the two PUT routes (their bodies are never
// buffered). Downloads are served as attachments that a browser never renders: a file
// written by code in the sandbox must not run as a page on the API's origin.
import type { IncomingMessage } from "node:http";
import { posix } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { describeError } from "../../domain/error-registry.ts";
import { errorResponses, idParam } from "../../schemas/common.ts";
import { archiveSummary, deleteFileQuery, fileResource, mkdirBody, moveBody, pathQuery, watchQuery, writeQuery } from "../../schemas/files.ts";
import type { SandboxFiles } from "../../services/sandbox-files.ts";
import { currentPrincipal } from "../auth.ts";
import { writeWithBackpressure } from "../backpressure.ts";
import { SseStream } from "../sse.ts";

const tags = ["files"];

export function fileRoutes(app: FastifyInstance, files: SandboxFiles): void {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    "/api/v1/sandboxes/:id/files",
    {
      schema: {
        tags,
        summary: "What a path is: a file's details, or a folder with its entries",
        params: idParam,
        querystring: pathQuery,
        response: { 200: fileResource, ...errorResponses },
      },
    },
    async (request) => files.info(currentPrincipal(request), request.params.id, request.query.path),
  );

  r.delete(
    "/api/v1/sandboxes/:id/files",
    {
      schema: {
        tags,
        summary: "Delete a file, symlink or folder",
        description: "A symlink is deleted as a link, never what it points at. A folder must be empty unless `recursive=true`.",
        params: idParam,
        querystring: deleteFileQuery,
        response: { 204: z.null().describe("Deleted."), ...errorResponses },
      },
    },
    async (request, reply) => {
      await files.remove(currentPrincipal(request), request.params.id, { path: request.query.path, recursive: request.query.recursive === "true" });
      reply.code(204);
      return null;
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/files/content",
    {
      schema: {
        tags,
        summary: "A file's bytes",
        description:
          "Raw bytes (`application/octet-stream`, as an attachment). `Range: bytes=a-b` (one range; `bytes=a-`, `bytes=-n`) answers 206 with `Content-Range`; a range starting past the end answers 416.",
        params: idParam,
        querystring: pathQuery,
        produces: ["application/octet-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const { id } = request.params;
      const gone = clientGone(reply);
      let range = parseRange(request.headers.range);
      if (range?.suffix !== undefined) {
        // The last n bytes: the size decides where they start.
        const { size } = await files.info(principal, id, request.query.path);
        range = { start: Math.max(0, size - range.suffix), end: undefined };
      }
      const content = await files.read(principal, id, request.query.path, { start: range?.start, end: range?.end }, gone.signal);
      // An empty file has no byte a range could name: it is sent whole.
      if (content.length === 0) range = null;
      const headers: Record<string, string> = {
        "content-type": "application/octet-stream",
        "content-length": String(content.length),
        "accept-ranges": "bytes",
        "last-modified": new Date(content.mtime).toUTCString(),
        "cache-control": "no-store",
        ...attachment(posix.basename(request.query.path)),
      };
      if (range) headers["content-range"] = `bytes ${range.start}-${range.start + content.length - 1}/${content.size}`;
      await streamBody(reply, request.id, range ? 206 : 200, headers, content.body, gone);
    },
  );

  r.get(
    "/api/v1/sandboxes/:id/files/archive",
    {
      schema: {
        tags,
        summary: "A folder (or a file) as a tar archive",
        description:
          "An uncompressed tar (ustar with pax headers) of the folder's contents, entries named relative to it; symlinks are archived as links, devices and FIFOs left out. Streamed: a broken stream ends the connection early.",
        params: idParam,
        querystring: pathQuery,
        produces: ["application/x-tar"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const gone = clientGone(reply);
      const archive = await files.archive(currentPrincipal(request), request.params.id, request.query.path, gone.signal);
      const headers = {
        "content-type": "application/x-tar",
        "cache-control": "no-store",
        ...attachment(`${posix.basename(request.query.path) || "files"}.tar`),
      };
      await streamBody(reply, request.id, 200, headers, archive, gone);
    },
  );

  r.post(
    "/api/v1/sandboxes/:id/files/mkdir",
    {
      schema: { tags, summary: "Create a folder", params: idParam, body: mkdirBody, response: { 201: fileResource, ...errorResponses } },
    },
    async (request, reply) => {
      const made = await files.makeDirectory(currentPrincipal(request), request.params.id, request.body);
      reply.code(201);
      return made;
    },
  );

  r.post(
    "/api/v1/sandboxes/:id/files/move",
    {
      schema: {
        tags,
        summary: "Move or rename a file or folder",
        description: "`to` is the new path in full. Both must be inside the same root (/workspace or /home/outpost): they are separate file systems.",
        params: idParam,
        body: moveBody,
        response: { 200: fileResource, ...errorResponses },
      },
    },
    async (request) => files.move(currentPrincipal(request), request.params.id, request.body),
  );

  r.get(
    "/api/v1/sandboxes/:id/files/watch",
    {
      schema: {
        tags,
        summary: "Watch a folder (Server-Sent Events)",
        description:
          "`snapshot` (the folder as GET …/files answers it), then `change` { path, name, entry } per changed name (entry null: it is gone), `overflow` (too much changed: list the folder again) and `end` { reason } when the folder itself went away. Subfolders are not watched. No resume: after a reconnect the new snapshot is the truth. `follow=false` sends the snapshot and ends.",
        params: idParam,
        querystring: watchQuery,
        produces: ["text/event-stream"],
        response: errorResponses,
      },
    },
    async (request, reply) => {
      const principal = currentPrincipal(request);
      const { id } = request.params;
      if (request.query.follow === "false") {
        const snapshot = await files.info(principal, id, request.query.path);
        const stream = new SseStream(reply, request.id);
        await stream.send({ type: "snapshot", data: snapshot });
        stream.end();
        return;
      }
      const controller = new AbortController();
      const watch = await files.watch(principal, id, request.query.path, controller.signal);
      const stream = new SseStream(reply, request.id);
      stream.signal.addEventListener("abort", () => controller.abort());
      try {
        await stream.send({ type: "snapshot", data: watch.snapshot });
        for await (const line of watch.changes) {
          if (line.type === "changes") {
            for (const change of line.changes) await stream.send({ type: "change", data: { path: posix.join(watch.snapshot.path, change.name), ...change } });
          } else if (line.type === "overflow") {
            await stream.send({ type: "overflow", data: {} });
          } else {
            await stream.send({ type: "end", data: { reason: line.reason } });
          }
        }
      } catch (error) {
        if (!controller.signal.aborted) await stream.send({ type: "error", data: describeError(error) });
      } finally {
        controller.abort();
        stream.end();
      }
    },
  );

  // The two uploads take any body as raw bytes, streamed: a scope of their own, where the
  // only body parser hands the request stream on untouched (and no 1 MiB limit applies).
  app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
    const rr = raw.withTypeProvider<ZodTypeProvider>();

    rr.put(
      "/api/v1/sandboxes/:id/files/content",
      {
        schema: {
          tags,
          summary: "Write a file (the raw request body)",
          description:
            "The body, any content type, becomes the file: streamed to a temporary file in the same folder and renamed over the name, so readers never see half of it. A replaced file keeps its permissions; a symlink that stays inside is written through, one that leads out is refused. A cancelled upload changes nothing.",
          params: idParam,
          querystring: writeQuery,
          consumes: ["application/octet-stream"],
          response: { 200: fileResource, ...errorResponses },
        },
      },
      async (request) => {
        const body = new RequestBody(request.raw);
        try {
          return await files.write(currentPrincipal(request), request.params.id, request.query.path, body.chunks(), {
            parents: request.query.parents === "true",
            overwrite: request.query.overwrite !== "false",
            mode: request.query.mode === undefined ? undefined : Number.parseInt(request.query.mode, 8),
            signal: body.signal,
          });
        } catch (error) {
          body.discard();
          throw error;
        }
      },
    );

    rr.put(
      "/api/v1/sandboxes/:id/files/archive",
      {
        schema: {
          tags,
          summary: "Unpack a tar archive into a folder",
          description:
            "The body is an uncompressed tar archive (e.g. `tar -cf - -C dir .`), unpacked into `path` (created with its parents when missing) as it streams in. Refused with the whole upload (403 PATH_OUTSIDE_SANDBOX): absolute names, `..`, entries written through a symlink, symlinks leading outside the sandbox's folders, hard links to anything but a file unpacked here. Entries unpacked before a refused one stay.",
          params: idParam,
          querystring: pathQuery,
          consumes: ["application/x-tar"],
          response: { 200: archiveSummary, ...errorResponses },
        },
      },
      async (request) => {
        const body = new RequestBody(request.raw);
        try {
          return await files.extract(currentPrincipal(request), request.params.id, request.query.path, body.chunks(), body.signal);
        } catch (error) {
          body.discard();
          throw error;
        }
      },
    );
  });
}

/**
 * An upload's body as chunks for the supervisor's stream. When the sandbox refuses it early,
 * the rest is read and thrown away rather than left unread: the client gets its error answer
 * after sending, instead of a connection reset while it is still sending.
 */
class RequestBody {
  readonly #raw: IncomingMessage;
  readonly #gone = new AbortController();
  #reading = false;
  #discarding = false;

  constructor(raw: IncomingMessage) {
    this.#raw = raw;
    raw.once("close", () => {
      if (!raw.complete) this.#gone.abort(new Error("the client went away during the upload"));
    });
  }

  /** Aborted when the client goes away before the body is complete. */
  get signal(): AbortSignal {
    return this.#gone.signal;
  }

  async *chunks(): AsyncGenerator<Buffer> {
    this.#reading = true;
    try {
      // Leaving the loop early must not destroy the request: its answer is still to come.
      for await (const chunk of this.#raw.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
    } finally {
      this.#reading = false;
      if (this.#discarding) this.#raw.resume();
    }
  }

  discard(): void {
    this.#discarding = true;
    if (!this.#reading && !this.#raw.complete) this.#raw.resume();
  }
}

/** A download's name for the browser: ASCII fallback and the UTF-8 name (RFC 6266). */
function attachment(name: string): Record<string, string> {
  const fallback = name.replace(/[^\x20-\x7e]|["\\]/g, "_") || "file";
  return {
    "content-disposition": `attachment; filename="${fallback}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; sandbox",
  };
}

/**
 * One byte range of a `Range` header: `bytes=a-b`, `bytes=a-` or `bytes=-n` (suffix).
 * Anything else (several ranges, other units, malformed) is ignored, as HTTP allows: the
 * whole file is sent.
 */
function parseRange(
  header: string | undefined,
): { start: number; end: number | undefined; suffix?: undefined } | { suffix: number; start?: undefined; end?: undefined } | null {
  const match = header === undefined ? null : /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (!match) return null;
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return null;
  if (first === "") return { suffix: Number(last) };
  const start = Number(first);
  if (last === "") return { start, end: undefined };
  const end = Number(last) + 1;
  return end > start ? { start, end } : null;
}

/**
 * Sends a stream of bytes as the answer, each write waiting for the socket to drain. A
 * stream that breaks midway cuts the connection: with a Content-Length, or without the
 * closing chunk, the client sees that the answer is incomplete.
 */
async function streamBody(
  reply: FastifyReply,
  requestId: string,
  status: number,
  headers: Record<string, string>,
  body: AsyncIterable<Buffer>,
  gone: AbortController,
): Promise<void> {
  reply.hijack();
  reply.raw.writeHead(status, { ...headers, "x-request-id": requestId });
  if (reply.request.method === "HEAD") {
    // The headers are the answer; the supervisor's stream is closed unread.
    reply.raw.end();
    gone.abort();
    return;
  }
  try {
    for await (const chunk of body) {
      if (gone.signal.aborted) break;
      await writeWithBackpressure(reply.raw, chunk);
    }
  } catch (error) {
    reply.log.warn({ err: error }, "a file stream from the sandbox broke");
    reply.raw.destroy();
    return;
  }
  if (gone.signal.aborted) reply.raw.destroy();
  else reply.raw.end();
}

/** Aborts when the client disconnects before the response is complete. */
function clientGone(reply: FastifyReply): AbortController {
  const controller = new AbortController();
  reply.raw.on("close", () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller;
}
