// Writing a live answer with backpressure: each write waits for the socket to drain (or
// the client to go), so a slow client pauses the producer instead of growing a buffer.
import type { ServerResponse } from "node:http";

export function writeWithBackpressure(raw: ServerResponse, chunk: string | Buffer): Promise<void> {
  if (raw.writableEnded || raw.destroyed) return Promise.resolve();
  if (raw.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      raw.off("drain", done);
      raw.off("close", done);
      resolve();
    };
    raw.once("drain", done);
    raw.once("close", done);
  });
}
