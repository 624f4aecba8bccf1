// The binary twin of SseStream: an answer made of frames (src/supervisor/frames.ts) for
// clients that want throughput (`Accept: application/vnd.outpost.frames`): output as raw
// bytes, no base64, no JSON per chunk. Every frame is built here, around bytes the
// supervisor's client has already checked, so nothing from a sandbox decides the framing.
// Writes wait for the socket to drain: a slow client pauses the stream, all the way to the
// command in the sandbox.
import type { FastifyReply } from "fastify";
import { encodeJsonFrame, FRAME, FRAME_HEADER_BYTES, FRAMES_CONTENT_TYPE, type FrameType } from "../supervisor/frames.ts";
import { writeWithBackpressure } from "./backpressure.ts";

export class FrameStream {
  readonly #reply: FastifyReply;
  readonly abort = new AbortController();

  constructor(reply: FastifyReply, requestId: string) {
    this.#reply = reply;
    reply.hijack();
    reply.raw.writeHead(200, { "content-type": FRAMES_CONTENT_TYPE, "cache-control": "no-store", "x-request-id": requestId });
    reply.raw.flushHeaders();
    reply.raw.on("close", () => this.abort.abort());
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Raw bytes as one frame (header and payload written separately: no copy). */
  bytes(type: FrameType, payload: Buffer): Promise<void> {
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header[0] = type;
    header.writeUInt32BE(payload.length, 1);
    this.#reply.raw.write(header);
    return this.#write(payload);
  }

  json(type: FrameType, value: unknown): Promise<void> {
    return this.#write(encodeJsonFrame(type, value));
  }

  error(error: { code: string; message: string }): Promise<void> {
    return this.json(FRAME.error, error);
  }

  end(): void {
    if (!this.#reply.raw.writableEnded) this.#reply.raw.end();
  }

  #write(chunk: Buffer): Promise<void> {
    return writeWithBackpressure(this.#reply.raw, chunk);
  }
}
