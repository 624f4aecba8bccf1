// The transport-agnostic request/response pair every handler works with. The unix-socket
// adapter (http-adapter.ts) is one binding; a later one will carry the same protocol over
// a connection the supervisor dials out to the control plane (Kubernetes, no inbound
// port), so handlers must not touch node:http objects directly.
import type { Readable } from "node:stream";

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
}

export type Handler = (request: SupervisorRequest, response: SupervisorResponse, params: Record<string, string>) => Promise<void>;
