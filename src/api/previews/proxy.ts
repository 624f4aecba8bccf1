// The preview proxy: one HTTP/1.1 exchange (or one WebSocket) carried over a tunnel to the
// app's port inside the sandbox. Node's own HTTP client speaks to the app over the tunnel
// (one tunnel per request, `Connection: close` towards the app), so the app's answer is
// parsed with Node's limits (headers ≤ 16 KiB) before anything of it reaches the browser;
// bodies stream both ways with backpressure and are never buffered. The app is untrusted
// (the agent wrote it): a malformed answer is a 502, no first byte within the deadline a
// 504, and either costs this request only.
//
// What the app sees: the browser's headers minus hop-by-hop ones and minus Outpost's own
// credentials (the preview cookie; on the bearer path the Authorization header and every
// cookie of the main origin), plus X-Forwarded-Host/-Proto/-For (and -Prefix on the bearer
// path). What the browser sees: the app's answer minus hop-by-hop headers. On the bearer
// path the answer arrives on the main origin, so it is made inert there: no Set-Cookie, and
// `Content-Security-Policy: sandbox` in case a browser ever renders it.
import { type ClientRequest, request as httpRequest, type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { Duplex, pipeline } from "node:stream";
import { OutpostError } from "../../domain/errors.ts";
import { PREVIEW_COOKIE, withoutCookie } from "./cookies.ts";

export const FIRST_BYTE_TIMEOUT_MS = 60_000;
export const MAX_APP_HEADER_BYTES = 16 * 1024;

export interface Forwarding {
  /** The Host header the app gets: the preview's own host. */
  host: string;
  /** Path and query as the app sees them. */
  path: string;
  /** origin: served on the preview's own origin; bearer: on the main origin, for API clients. */
  mode: "origin" | "bearer";
  proto: "http" | "https";
  /** The part of the main origin's path before `path` (bearer path), for X-Forwarded-Prefix. */
  prefix?: string;
  firstByteTimeoutMs?: number;
}

/** Request headers that describe one connection, or that Outpost sets itself. */
const REQUEST_DROPPED = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // Answered already by this server (Node sends 100 Continue itself).
  "expect",
  "host",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-prefix",
]);
const RESPONSE_DROPPED = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "trailer", "upgrade", "te"]);

/** Header names a Connection header lists: hop-by-hop too (RFC 9110 §7.6.1). */
function connectionListed(value: string | string[] | undefined): Set<string> {
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(
    text
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
}

/** The headers the app gets, as a flat [name, value, …] list (repeated names kept). */
export function requestHeadersFor(request: IncomingMessage, forwarding: Forwarding): string[] {
  const listed = connectionListed(request.headers.connection);
  const out = ["Host", forwarding.host];
  const forwardedFor: string[] = [];
  let chunked = false;
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (lower === "transfer-encoding") chunked ||= /chunked/i.test(value);
    if (REQUEST_DROPPED.has(lower) || (listed.has(lower) && lower !== "upgrade")) continue;
    if (lower === "x-forwarded-for") {
      forwardedFor.push(value);
      continue;
    }
    if (forwarding.mode === "bearer" && (lower === "cookie" || lower === "authorization")) continue;
    if (lower === "cookie") {
      const kept = withoutCookie(value, PREVIEW_COOKIE);
      if (kept !== undefined) out.push(name, kept);
      continue;
    }
    out.push(name, value);
  }
  const upgrade = request.headers.upgrade;
  if (upgrade !== undefined) out.push("Connection", "Upgrade", "Upgrade", upgrade);
  else {
    // One tunnel per request: the app closes the connection after answering.
    out.push("Connection", "close");
    // A chunked body is re-chunked towards the app (Node frames what it writes).
    if (chunked && request.headers["content-length"] === undefined) out.push("Transfer-Encoding", "chunked");
  }
  forwardedFor.push(request.socket.remoteAddress ?? "unknown");
  out.push("X-Forwarded-Host", forwarding.host, "X-Forwarded-Proto", forwarding.proto, "X-Forwarded-For", forwardedFor.join(", "));
  if (forwarding.prefix) out.push("X-Forwarded-Prefix", forwarding.prefix);
  return out;
}

/** The app's headers the browser gets, as a flat list. A 101 keeps Connection and Upgrade. */
export function responseHeadersFor(response: IncomingMessage, mode: Forwarding["mode"], switching = false): string[] {
  const listed = connectionListed(response.headers.connection);
  const out: string[] = [];
  const raw = response.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (switching ? lower === "keep-alive" || lower === "transfer-encoding" || lower === "proxy-connection" : RESPONSE_DROPPED.has(lower) || listed.has(lower))
      continue;
    if (mode === "bearer" && lower === "set-cookie") continue;
    out.push(name, raw[i + 1] as string);
  }
  if (mode === "bearer") out.push("Content-Security-Policy", "sandbox", "X-Content-Type-Options", "nosniff");
  return out;
}

/** The browser's request, as the app in the sandbox is sent it over the tunnel. */
function appRequest(request: IncomingMessage, tunnel: Duplex, forwarding: Forwarding): ClientRequest {
  return httpRequest({
    method: request.method,
    path: forwarding.path,
    headers: requestHeadersFor(request, forwarding),
    setHost: false,
    createConnection: () => new TunnelSocket(tunnel) as unknown as Socket,
    maxHeaderSize: MAX_APP_HEADER_BYTES,
  });
}

/**
 * One request through an open tunnel. Resolves once the exchange is over (or cut). Throws
 * an OutpostError before anything was sent to the browser (the caller answers it); after
 * the app's headers went out, a failure can only cut the response.
 */
export function proxyRequest(request: IncomingMessage, response: ServerResponse, tunnel: Duplex, forwarding: Forwarding): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: OutpostError) => {
      if (settled) return;
      settled = true;
      tunnel.destroy();
      reject(error);
    };
    const upstream = appRequest(request, tunnel, forwarding);
    let deadline: NodeJS.Timeout | undefined;
    const startDeadline = () => {
      deadline = setTimeout(() => {
        fail(appTimeout(forwarding));
        upstream.destroy();
      }, forwarding.firstByteTimeoutMs ?? FIRST_BYTE_TIMEOUT_MS);
    };
    // The deadline runs from the end of the request: an app may wait for the whole upload.
    upstream.once("finish", startDeadline);
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      fail(appBroken(error));
    });
    // The browser went away before the app answered: nothing to wait for.
    response.once("close", () => {
      clearTimeout(deadline);
      upstream.destroy();
      tunnel.destroy();
      if (!settled) {
        settled = true;
        resolve();
      }
    });
    upstream.once("response", (answer) => {
      clearTimeout(deadline);
      if (settled) return answer.destroy();
      try {
        response.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeadersFor(answer, forwarding.mode));
      } catch {
        answer.destroy();
        return fail(new OutpostError("PREVIEW_APP_BAD_RESPONSE", "The app in the sandbox answered with a status or header this server cannot pass on."));
      }
      settled = true;
      pipeline(answer, response, () => {
        tunnel.destroy();
        resolve();
      });
    });
    pipeline(request, upstream, (error) => {
      if (error) upstream.destroy();
    });
  });
}

/**
 * A WebSocket (or any Upgrade) through an open tunnel: the app's 101 and its headers go to
 * the browser, then bytes flow both ways until either side closes. Another answer than 101
 * is passed on as it is, and the connection closed after it.
 */
export function proxyUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, tunnel: Duplex, forwarding: Forwarding): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: OutpostError) => {
      if (settled) return;
      settled = true;
      tunnel.destroy();
      reject(error);
    };
    const upstream = appRequest(request, tunnel, forwarding);
    const deadline = setTimeout(() => {
      fail(appTimeout(forwarding));
      upstream.destroy();
    }, forwarding.firstByteTimeoutMs ?? FIRST_BYTE_TIMEOUT_MS);
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(deadline);
      fail(appBroken(error));
    });
    socket.once("close", () => {
      clearTimeout(deadline);
      upstream.destroy();
      tunnel.destroy();
      if (!settled) {
        settled = true;
        resolve();
      }
    });
    upstream.once("upgrade", (answer: IncomingMessage, appSocket: Duplex, appHead: Buffer) => {
      clearTimeout(deadline);
      if (settled) return appSocket.destroy();
      settled = true;
      socket.write(rawHead(101, answer.statusMessage, responseHeadersFor(answer, forwarding.mode, true)));
      if (appHead.length) socket.write(appHead);
      if (head.length) appSocket.write(head);
      // A WebSocket has no half-closed state: once either side ends (or fails), both go.
      // Waiting for the other side instead could wait forever on an app that never closes.
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        socket.destroy();
        appSocket.destroy();
        tunnel.destroy();
        resolve();
      };
      pipeline(appSocket, socket, finish);
      pipeline(socket, appSocket, finish);
    });
    upstream.once("response", (answer) => {
      clearTimeout(deadline);
      if (settled) return answer.destroy();
      settled = true;
      socket.write(rawHead(answer.statusCode ?? 502, answer.statusMessage, [...responseHeadersFor(answer, forwarding.mode), "Connection", "close"]));
      pipeline(answer, socket, () => {
        tunnel.destroy();
        resolve();
      });
    });
    upstream.end();
  });
}

/** A response head written on a raw socket (upgrades have no ServerResponse). */
export function rawHead(status: number, message: string | undefined, headers: string[]): string {
  const reason = message && /^[\t\x20-\x7e\x80-\xff]*$/.test(message) ? message : (STATUS_CODES[status] ?? "");
  const lines = [`HTTP/1.1 ${status} ${reason}`];
  for (let i = 0; i + 1 < headers.length; i += 2) lines.push(`${headers[i]}: ${headers[i + 1]}`);
  return `${lines.join("\r\n")}\r\n\r\n`;
}

function appTimeout(forwarding: Forwarding): OutpostError {
  const seconds = Math.round((forwarding.firstByteTimeoutMs ?? FIRST_BYTE_TIMEOUT_MS) / 1000);
  return new OutpostError("PREVIEW_APP_TIMEOUT", `The app in the sandbox did not start answering within ${seconds} s.`);
}

/** The app closed early or answered what is not HTTP/1.1 (the parser's code says which). */
function appBroken(error: NodeJS.ErrnoException): OutpostError {
  const code = typeof error.code === "string" ? error.code : "";
  if (code === "HPE_HEADER_OVERFLOW") {
    return new OutpostError("PREVIEW_APP_BAD_RESPONSE", `The app in the sandbox answered with headers over ${MAX_APP_HEADER_BYTES / 1024} KiB.`);
  }
  if (code.startsWith("HPE_")) return new OutpostError("PREVIEW_APP_BAD_RESPONSE", `The app in the sandbox answered something that is not HTTP/1.1 (${code}).`);
  return new OutpostError("PREVIEW_APP_BAD_RESPONSE", "The app in the sandbox closed the connection without answering.");
}

/**
 * The tunnel as Node's HTTP client writes to it. That client writes its request head as a
 * latin1 string and, with a body, both in one writev; an HTTP/2 stream (the tunnel is one)
 * on Node 20 can then send freed memory in place of the head's first bytes. Here every
 * write reaches the tunnel as one Buffer. Reads pass through with backpressure.
 */
class TunnelSocket extends Duplex {
  #ended = false;

  constructor(private readonly tunnel: Duplex) {
    super({ allowHalfOpen: true });
    tunnel.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) tunnel.pause();
    });
    tunnel.on("end", () => {
      this.#ended = true;
      this.push(null);
    });
    tunnel.on("error", (error) => this.destroy(error));
    // Closed without an end (reset, cancelled): what was not read is lost anyway.
    tunnel.on("close", () => {
      if (!this.#ended) this.destroy();
    });
  }

  override _read(): void {
    this.tunnel.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.tunnel.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.tunnel.write(Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.tunnel.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.tunnel.destroy();
    callback(error);
  }

  // What Node's HTTP client may call on a socket.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
