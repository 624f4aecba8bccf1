// Small helpers to answer with JSON or an error body, and to write NDJSON lines while
// respecting backpressure (the caller awaits when the transport is full, so a slow
// client slows the producer instead of growing a buffer).
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from "../protocol.ts";
import type { SupervisorResponse } from "./http-types.ts";

/** Headers every response carries, errors included. */
export const BASE_HEADERS: Readonly<Record<string, string>> = { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) };

export function sendJson(response: SupervisorResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.start(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) });
  response.end(text);
}

export function sendError(response: SupervisorResponse, status: number, code: string, message: string): void {
  sendJson(response, status, { error: { code, message } });
}

/** Writes one NDJSON line; resolves once the transport can take more (or the client left). */
export async function writeLine(response: SupervisorResponse, value: unknown): Promise<void> {
  await writeChunk(response, JSON.stringify(value) + "\n");
}

/** Writes bytes; resolves once the transport can take more (or the client left). */
export async function writeChunk(response: SupervisorResponse, chunk: string | Buffer): Promise<void> {
  if (response.closed) return;
  if (!response.write(chunk)) await response.drain();
}
