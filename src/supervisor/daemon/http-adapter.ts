// Binds the transport-agnostic router to node:http on a unix socket. Everything HTTP-
// specific lives here: header normalisation, the protocol header on every response,
// turning 'drain'/'close' into drain() and the request's AbortSignal.
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { dirname } from "node:path";
import type { SupervisorRequest, SupervisorResponse } from "./http-types.ts";
import { BASE_HEADERS } from "./respond.ts";

export type RequestListener = (request: SupervisorRequest, response: SupervisorResponse) => Promise<void>;

function adaptRequest(req: IncomingMessage, signal: AbortSignal): SupervisorRequest {
  const url = new URL(req.url ?? "/", "http://supervisor");
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(", ") : value;
  return { method: req.method ?? "GET", path: url.pathname, query: url.searchParams, headers, body: req, signal };
}

function adaptResponse(res: ServerResponse): SupervisorResponse {
  return {
    start(status, headers) {
      res.writeHead(status, { ...BASE_HEADERS, ...headers });
    },
    get started() {
      return res.headersSent;
    },
    write: (chunk) => res.write(chunk),
    drain() {
      if (res.destroyed || res.writableEnded || !res.writableNeedDrain) return Promise.resolve();
      return new Promise((resolve) => {
        // Both listeners are removed together: a 100 MB stream drains thousands of times.
        const done = () => {
          res.off("drain", done);
          res.off("close", done);
          resolve();
        };
        res.on("drain", done);
        res.on("close", done);
      });
    },
    end(chunk) {
      if (!res.writableEnded) res.end(chunk);
    },
    get closed() {
      return res.destroyed || res.writableEnded;
    },
  };
}

export function createSupervisorServer(listener: RequestListener): Server {
  return createServer((req, res) => {
    const controller = new AbortController();
    // 'close' before 'finish' means the client went away mid-response.
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    // Writes racing a disconnect must not become uncaught errors.
    res.on("error", () => {});
    req.on("error", () => {});
    void listener(adaptRequest(req, controller.signal), adaptResponse(res));
  });
}

/** Listens on `socketPath` (a stale socket is removed first), mode 0600 from the start. */
export async function listenOnSocket(server: Server, socketPath: string): Promise<void> {
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  // The umask makes the socket 0600 at creation, so there is no window in which another
  // user could connect before the chmod below.
  const previousUmask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } finally {
    process.umask(previousUmask);
  }
  chmodSync(socketPath, 0o600);
}
