// Is the supervisor answering? One tiny HTTP request over its unix socket:
// GET /v1/health → 200 {"protocol": N}. The full client lives in src/supervisor/; this
// only decides readiness, so it needs nothing but node:http. No keep-alive agent: a
// pooled idle connection would hold the supervisor's server open after we are done.
import { request } from "node:http";

export interface Health {
  protocol?: number;
}

/** One attempt; resolves null on any failure (no socket yet, refused, bad answer, timeout). */
export function probeHealth(socketPath: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Health | null> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: "/v1/health", method: "GET", agent: false, timeout: options.timeoutMs ?? 2000, signal: options.signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", () => resolve(null));
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve(null);
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
          resolve(body && typeof body === "object" ? (body as Health) : {});
        } catch {
          resolve(null);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
    req.end();
  });
}
