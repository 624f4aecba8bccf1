// Server-Sent Events framing and flow control for every live view. Writes wait for the
// socket to drain, so a slow client costs a paused loop, never an unbounded buffer; a
// comment line every 15 s keeps proxies from closing an idle stream.
import type { FastifyReply } from "fastify";
import { writeWithBackpressure } from "./backpressure.ts";

export const HEARTBEAT_MS = 15_000;

export class SseStream {
  readonly #reply: FastifyReply;
  readonly #heartbeat: NodeJS.Timeout;
  readonly abort = new AbortController();

  constructor(reply: FastifyReply, requestId: string) {
    this.#reply = reply;
    reply.hijack();
    reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      "x-request-id": requestId,
    });
    reply.raw.flushHeaders();
    reply.raw.on("close", () => this.abort.abort());
    this.#heartbeat = setInterval(() => void this.#write(": heartbeat\n\n"), HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Sends one event; resolves once the socket can take more. */
  send(event: { id?: number | string; type: string; data: unknown }): Promise<void> {
    // JSON.stringify never emits a raw newline, so one data: line carries the whole object.
    return this.sendJson({ id: event.id, type: event.type, json: JSON.stringify(event.data) });
  }

  /**
   * Sends an event whose data is already JSON text, for hot paths that build it without
   * JSON.stringify (output chunks). The caller guarantees `json` has no raw CR or LF.
   */
  sendJson(event: { id?: number | string; type: string; json: string }): Promise<void> {
    const id = event.id !== undefined ? `id: ${event.id}\n` : "";
    return this.#write(`event: ${event.type}\n${id}data: ${event.json}\n\n`);
  }

  end(): void {
    clearInterval(this.#heartbeat);
    if (!this.#reply.raw.writableEnded) this.#reply.raw.end();
  }

  #write(chunk: string): Promise<void> {
    return writeWithBackpressure(this.#reply.raw, chunk);
  }
}

/**
 * Base64 from a supervisor, decoded and encoded again: what comes out is certainly base64
 * (a rogue supervisor cannot smuggle quotes or newlines into a frame built around it), and
 * the round trip costs a fraction of JSON.stringify on the same 80 KB string.
 */
export function cleanBase64(text: string): string {
  return Buffer.from(text, "base64").toString("base64");
}

/** The resume point: `Last-Event-ID` header, or `?after=` (for clients that cannot set headers). */
export function resumeAfter(headerValue: string | string[] | undefined, queryAfter: number | undefined): number {
  const header = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  if (header !== undefined && /^\d{1,15}$/.test(header.trim())) return Number(header.trim());
  return queryAfter ?? 0;
}
