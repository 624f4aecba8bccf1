// Binds the transport-agnostic router to an HTTP/2 server that never listens: the
// supervisor dials the control plane (dialer.ts) and hands each established connection to
// this server, which then serves the control plane's requests over it. Everything
// HTTP-specific lives here: pseudo-header filtering, the protocol header on every
// response, 'drain'/'close' turned into drain() and the request's AbortSignal.
// HTTP/2 gives every request its own stream with flow control: a stalled reader of one
// stream pauses its writer only.
import { createServer, type Http2Server, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { SupervisorRequest, SupervisorResponse } from "./http-types.ts";
import { BASE_HEADERS } from "./respond.ts";

export type RequestListener = (request: SupervisorRequest, response: SupervisorResponse) => Promise<void>;

/** Matches the control plane's windows (link/session.ts). */
const STREAM_WINDOW_BYTES = 1024 * 1024;

function adaptRequest(req: Http2ServerRequest, signal: AbortSignal): SupervisorRequest {
  const url = new URL(req.url ?? "/", "http://supervisor");
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith(":")) continue;
    headers[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers, body: req, signal };
}

function adaptResponse(res: Http2ServerResponse): SupervisorResponse {
  const stream = res.stream;
  const gone = () => res.stream.destroyed || res.writableEnded || res.stream.closed;
  return {
    start(status, headers) {
      res.writeHead(status, { ...BASE_HEADERS, ...headers });
    },
    get started() {
      return res.headersSent;
    },
    write: (chunk) => (gone() ? false : res.write(chunk)),
    drain() {
      if (gone() || !stream.writableNeedDrain) return Promise.resolve();
      return new Promise((resolve) => {
        // Both listeners are removed together: a 100 MB stream drains thousands of times.
        const done = () => {
          stream.off("drain", done);
          stream.off("close", done);
          resolve();
        };
        stream.on("drain", done);
        stream.on("close", done);
      });
    },
    end(chunk) {
      if (gone()) return;
      if (chunk === undefined) res.end();
      else res.end(chunk);
    },
    get closed() {
      return gone();
    },
    raw: stream,
  };
}

export function createLinkServer(listener: RequestListener): Http2Server {
  const server = createServer(
    {
      settings: { initialWindowSize: STREAM_WINDOW_BYTES, maxConcurrentStreams: 256, maxHeaderListSize: 64 * 1024 },
      maxSessionMemory: 32,
    },
    (req, res) => {
      const controller = new AbortController();
      // 'close' before the handler ended the response means the control plane cancelled the
      // stream (RST_STREAM). writableFinished cannot tell: a reset stream reports finished.
      res.stream.once("close", () => {
        if (!res.writableEnded || (res.stream.rstCode ?? 0) !== 0) controller.abort();
      });
      // Writes racing a cancel must not become uncaught errors.
      res.stream.on("error", () => {});
      req.on("error", () => {});
      void listener(adaptRequest(req, controller.signal), adaptResponse(res));
    },
  );
  server.on("session", (session) => {
    session.on("error", () => {});
    try {
      session.setLocalWindowSize(16 * 1024 * 1024);
    } catch {
      // closed meanwhile
    }
  });
  return server;
}
