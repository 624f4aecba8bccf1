// How the control plane's SupervisorClient reaches a supervisor: one request, one
// response whose body can be read incrementally. The link (link/session.ts, HTTP/2 over
// the connection the supervisor dialled) implements it; tests may implement it in memory.
import type { Duplex } from "node:stream";

export interface TransportRequest {
  method: "GET" | "POST" | "DELETE";
  /** Path and query, e.g. "/v1/processes/prc_x/logs?after=3". */
  path: string;
  /** Serialised as JSON when present. */
  body?: unknown;
  /** Extra request headers (lower-case names), e.g. `accept` for binary frames. */
  headers?: Record<string, string>;
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

export interface DuplexRequest {
  method: "GET" | "POST";
  path: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** Writes what must go out before the answer can come (e.g. a PTY's open frame). */
  first(stream: Duplex): void;
}

/** Bytes a transport lets its callers hold at once (answers being read), across streams. */
export interface ByteBudget {
  /** False (and nothing taken) when `bytes` more would pass the budget. */
  take(bytes: number): boolean;
  give(bytes: number): void;
}

export interface SupervisorTransport {
  /** Shared by every call on this transport (one sandbox's link); none means unbounded. */
  readonly budget?: ByteBudget;
  /** Resolves once the status line and headers arrived; rejects with a code'd error when the supervisor cannot be reached. */
  request(request: TransportRequest): Promise<TransportResponse>;
  /** A stream with bytes both ways (PTYs, tunnels); resolves once the answer's headers arrived. */
  openDuplex?(request: DuplexRequest): Promise<{ status: number; headers: Record<string, string | undefined>; stream: Duplex }>;
}

/** Raised when nothing answers on the other side (no socket, refused, reset before headers). */
export class TransportError extends Error {
  readonly code = "SUPERVISOR_UNAVAILABLE";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TransportError";
  }
}
