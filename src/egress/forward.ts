// Forwards one HTTP request a sandbox made to its upstream over a connection the proxy has
// already checked and opened (never a fresh lookup of the name), with the project's
// credentials put into the headers meant for that host. Shared by plain HTTP through the
// proxy, intercepted HTTPS and the model gateway. Bodies stream both ways with backpressure.
import { type IncomingHttpHeaders, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { pipeline, Transform } from "node:stream";
import { type Credential, injectCredentials } from "../domain/credentials.ts";

/** Headers that belong to one hop (RFC 9110 §7.6.1) and are never passed on. */
const HOP_BY_HOP = [
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "upgrade",
  "transfer-encoding",
];

export interface ForwardOptions {
  host: string;
  port: number;
  path: string;
  /** The checked connection (TCP, or TLS to the host) the request goes over; used once. */
  connection: Duplex;
  credentials: readonly Credential[];
  /** Header changes after injection (the gateway sets host and accept-encoding). */
  rewrite?: (headers: IncomingHttpHeaders) => void;
  /** The response as it streams past, e.g. to meter model usage. */
  onResponse?: (response: IncomingMessage) => ((chunk: Buffer) => void) | undefined;
  onEnd?: (bytes: { bytesUp: number; bytesDown: number }) => void;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): void {
  const headers: IncomingHttpHeaders = { ...req.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  for (const name of connectionTokens(req.headers.connection)) delete headers[name];
  const { headers: injected } = injectCredentials(headers, options.credentials, options.host);
  const outgoing = injected as IncomingHttpHeaders;
  options.rewrite?.(outgoing);
  outgoing.connection = "close";

  let bytesUp = 0;
  let bytesDown = 0;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    options.onEnd?.({ bytesUp, bytesDown });
  };

  const upstream = request({
    host: options.host,
    port: options.port,
    method: req.method,
    path: options.path,
    headers: outgoing,
    setHost: !outgoing.host,
    createConnection: () => options.connection as never,
  });
  upstream.on("response", (response) => {
    const tap = options.onResponse?.(response);
    const responseHeaders: IncomingHttpHeaders = { ...response.headers };
    for (const name of HOP_BY_HOP) delete responseHeaders[name];
    res.writeHead(response.statusCode ?? 502, response.statusMessage, responseHeaders);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        bytesDown += chunk.length;
        tap?.(chunk);
        done(null, chunk);
      },
    });
    pipeline(response, counter, res, () => end());
  });
  upstream.on("error", (error) => {
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain; charset=utf-8", "x-outpost-egress": "failed" });
      res.end(`Outpost egress proxy: ${options.host}:${options.port} failed: ${error.message}\n`);
    } else {
      res.destroy();
    }
    end();
  });
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
    end();
  });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytesUp += chunk.length;
      done(null, chunk);
    },
  });
  pipeline(req, counter, upstream, () => {});
}

function connectionTokens(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((token) => token.trim().toLowerCase())
    .filter(Boolean);
}
