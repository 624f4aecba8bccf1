// How the control plane's SupervisorClient reaches a supervisor. Behind an interface so
// that a tunnel transport (Kubernetes: the supervisor dials out, no inbound port) can be
// added without touching the client. This one speaks HTTP/1.1 over the local driver's
// unix socket, one connection per request (no keep-alive pool: clients are short-lived,
// and a pooled idle connection would outlive them).
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";

export interface TransportRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. "/v1/processes/prc_x/logs?after=3". */
  path: string;
  /** Serialised as JSON when present. */
  body?: unknown;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string | undefined>;
  /** The body as it arrives; reading slowly slows the supervisor down (backpressure). */
  body: AsyncIterable<Buffer>;
  /** Drops the connection (the supervisor then stops an exec it was running for us). */
  close(): void;
}

export interface SupervisorTransport {
  /** Resolves once the status line and headers arrived; rejects with a code'd error when the supervisor cannot be reached. */
  request(request: TransportRequest): Promise<TransportResponse>;
}

/** Raised when nothing answers on the other side (no socket, refused, reset before headers). */
export class TransportError extends Error {
  readonly code = "SUPERVISOR_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}

export class UnixSocketTransport implements SupervisorTransport {
  constructor(readonly socketPath: string) {}

  request({ method, path, body, signal }: TransportRequest): Promise<TransportResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      let req: ClientRequest | undefined;
      const onAbort = () => req?.destroy(signal?.reason instanceof Error ? signal.reason : new Error("aborted"));
      const headers: Record<string, string> = { accept: "application/json, application/x-ndjson" };
      if (payload) Object.assign(headers, { "content-type": "application/json", "content-length": String(payload.length) });
      req = httpRequest({ socketPath: this.socketPath, path, method, headers, agent: false }, (res: IncomingMessage) => {
        const flat: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(res.headers)) flat[name] = Array.isArray(value) ? value.join(", ") : value;
        // A body that is never read to the end must still release the abort listener.
        res.once("close", () => signal?.removeEventListener("abort", onAbort));
        resolve({
          status: res.statusCode ?? 0,
          headers: flat,
          body: res,
          close: () => {
            res.destroy();
            req?.destroy();
          },
        });
      });
      req.on("error", (error: NodeJS.ErrnoException) => {
        signal?.removeEventListener("abort", onAbort);
        if (signal?.aborted) return reject(signal.reason);
        reject(new TransportError(`cannot reach the supervisor on ${this.socketPath}: ${error.code ?? error.message}`, { cause: error }));
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      req.end(payload);
    });
  }
}
