// The control plane's end of one supervisor link: an HTTP/2 client session over the
// connection the supervisor dialled (see accept.ts). Every request is its own HTTP/2
// stream with its own flow control, so a slow reader of one exec stalls that exec only,
// and nothing buffers without bound: what the caller does not read is not acknowledged,
// and the supervisor's writes block. Implements SupervisorTransport for SupervisorClient,
// plus full-duplex streams (PTY, tunnels) through openDuplex().
//
// Limits against a hostile peer (the supervisor is inside the sandbox's trust boundary):
// no server push, bounded header lists, bounded session memory, a keep-alive ping with a
// deadline, and a cap on concurrently open streams per link.
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants, type IncomingHttpHeaders } from "node:http2";
import type { Duplex } from "node:stream";
import { type DuplexRequest, type SupervisorTransport, TransportError, type TransportRequest, type TransportResponse } from "../client-transport.ts";
import type { Hello } from "./preface.ts";

/** Per-stream receive window: large enough for ~1 GB/s on a local socket, small enough that 1000 idle streams stay cheap. */
const STREAM_WINDOW_BYTES = 1024 * 1024;
/** Connection-level receive window (all streams of one link together). */
const SESSION_WINDOW_BYTES = 16 * 1024 * 1024;
const MAX_HEADER_LIST_BYTES = 64 * 1024;
/** Streams open at once on one link; more requests wait for a slot (HTTP/2 queues them). */
export const MAX_STREAMS_PER_LINK = 256;
const PING_INTERVAL_MS = 20_000;
const PING_TIMEOUT_MS = 10_000;

export interface LinkInfo {
  sandboxId: string;
  protocol: number;
  supervisorVersion: string;
  capabilities: string[];
  /** The supervisor's pid inside the sandbox (as it says). */
  pid: number;
  connectedAt: Date;
}

export interface DuplexStream {
  status: number;
  headers: Record<string, string | undefined>;
  /** Write to send bytes to the supervisor, read what it sends; destroy() to close. */
  stream: Duplex;
}

/** JSON answers of one link being read at once, all streams together. */
const LINK_BUFFER_BUDGET_BYTES = 32 * 1024 * 1024;

export class LinkSession implements SupervisorTransport {
  readonly info: LinkInfo;
  readonly budget = new CountingBudget(LINK_BUFFER_BUDGET_BYTES);
  /** Resolves with the reason once the link is gone (never rejects). */
  readonly closed: Promise<string>;
  readonly #session: ClientHttp2Session;
  readonly #socket: Duplex;
  #closeReason: string | null = null;
  #resolveClosed!: (reason: string) => void;
  readonly #pinger: NodeJS.Timeout;

  constructor(socket: Duplex, hello: Hello, protocol: number) {
    this.#socket = socket;
    this.info = {
      sandboxId: hello.sandboxId,
      protocol,
      supervisorVersion: hello.supervisorVersion,
      capabilities: hello.capabilities,
      pid: hello.pid,
      connectedAt: new Date(),
    };
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#session = connect(`http://${hello.sandboxId}.sandbox`, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: STREAM_WINDOW_BYTES, maxHeaderListSize: MAX_HEADER_LIST_BYTES },
      maxHeaderListPairs: 64,
      maxSessionMemory: 32,
      maxReservedRemoteStreams: 0,
      peerMaxConcurrentStreams: MAX_STREAMS_PER_LINK,
    });
    this.#session.on("connect", () => {
      try {
        this.#session.setLocalWindowSize(SESSION_WINDOW_BYTES);
      } catch {
        // closed meanwhile
      }
    });
    this.#session.on("error", (error) => this.close(`link error: ${error.message}`));
    this.#session.on("goaway", () => this.close("the supervisor closed the link"));
    this.#session.on("close", () => this.close("the link closed"));
    socket.on("close", () => this.close("the link's connection closed"));
    this.#pinger = setInterval(() => this.#ping(), PING_INTERVAL_MS);
    this.#pinger.unref();
  }

  get isOpen(): boolean {
    return this.#closeReason === null;
  }

  close(reason: string): void {
    if (this.#closeReason !== null) return;
    this.#closeReason = reason;
    clearInterval(this.#pinger);
    if (!this.#session.destroyed) this.#session.destroy();
    // The connection itself too: the supervisor learns that its link is gone only from its
    // socket closing, and a destroyed HTTP/2 session need not end the socket at once (seen
    // with a tunnel stream open): the supervisor would stay on a dead link and never redial.
    this.#socket.destroy();
    this.#resolveClosed(reason);
  }

  request({ method, path, body, signal, headers = {} }: TransportRequest): Promise<TransportResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const requestHeaders: Record<string, string> = { accept: "application/json, application/x-ndjson", ...headers };
    if (payload) Object.assign(requestHeaders, { "content-type": "application/json", "content-length": String(payload.length) });
    return this.#open(method, path, requestHeaders, signal, (stream) => stream.end(payload)).then(({ status, headers: answered, stream }) => ({
      status,
      headers: answered,
      body: stream as AsyncIterable<Buffer>,
      close: () => stream.close(constants.NGHTTP2_CANCEL),
    }));
  }

  /** A stream with bytes both ways (the request body stays open for the caller to write). */
  async openDuplex({ method, path, headers, signal, first }: DuplexRequest): Promise<DuplexStream> {
    return this.#open(method, path, headers, signal, first);
  }

  #open(
    method: string,
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    sendBody: (stream: ClientHttp2Stream) => void,
  ): Promise<{ status: number; headers: Record<string, string | undefined>; stream: ClientHttp2Stream }> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      if (this.#closeReason !== null) return reject(new TransportError(`the sandbox's link is down (${this.#closeReason})`));
      let stream: ClientHttp2Stream;
      try {
        stream = this.#session.request({ ":method": method, ":path": path, ...headers }, { endStream: false });
      } catch (error) {
        return reject(new TransportError(`cannot open a stream on the sandbox's link: ${(error as Error).message}`, { cause: error }));
      }
      let answered = false;
      const onAbort = () => stream.close(constants.NGHTTP2_CANCEL);
      signal?.addEventListener("abort", onAbort, { once: true });
      stream.once("close", () => {
        signal?.removeEventListener("abort", onAbort);
        if (answered) return;
        if (signal?.aborted) reject(signal.reason);
        else reject(new TransportError(`the supervisor closed the stream before answering (code ${stream.rstCode ?? "none"})`));
      });
      // Errors after the answer surface through the body's iteration.
      stream.on("error", () => {});
      stream.once("response", (raw: IncomingHttpHeaders) => {
        answered = true;
        resolve({ status: Number(raw[":status"]) || 0, headers: flatten(raw), stream });
      });
      sendBody(stream);
    });
  }

  #ping(): void {
    if (this.#closeReason !== null) return;
    const timer = setTimeout(() => this.close("the supervisor did not answer a ping"), PING_TIMEOUT_MS);
    timer.unref();
    try {
      this.#session.ping((error) => {
        clearTimeout(timer);
        if (error) this.close(`ping failed: ${error.message}`);
      });
    } catch {
      clearTimeout(timer);
    }
  }
}

class CountingBudget {
  #held = 0;
  constructor(private readonly limit: number) {}

  take(bytes: number): boolean {
    if (this.#held + bytes > this.limit) return false;
    this.#held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}

function flatten(raw: IncomingHttpHeaders): Record<string, string | undefined> {
  const flat: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":")) continue;
    flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}
