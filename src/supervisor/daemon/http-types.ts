// The transport-agnostic request/response pair every handler works with. The HTTP/2
// adapter (http2-adapter.ts) binds it to the link the supervisor dialled; handlers must not
// touch node:http2 objects directly (tests drive them through other bindings).
import type { Readable, Writable } from "node:stream";

export interface SupervisorRequest {
  method: string;
  /** Decoded path without the query string, e.g. "/v1/processes/prc_abc". */
  path: string;
  query: URLSearchParams;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string | undefined>;
  body: Readable;
  /** Aborted when the client goes away before the response ended. */
  signal: AbortSignal;
}

export interface SupervisorResponse {
  /** Sends status and headers; must come first and only once. */
  start(status: number, headers: Record<string, string>): void;
  readonly started: boolean;
  /** False means the transport is full: wait for drain() before writing more. */
  write(chunk: string | Buffer): boolean;
  /** Resolves when more can be written, or when the client is gone (check `closed`). */
  drain(): Promise<void>;
  end(chunk?: string | Buffer): void;
  /** True once the client disconnected or the response ended. */
  readonly closed: boolean;
  /** The body as a plain Writable, for piping raw bytes after start() (tunnels). */
  readonly raw: Writable;
}

export type Handler = (request: SupervisorRequest, response: SupervisorResponse, params: Record<string, string>) => Promise<void>;
