// A small HTTP client for the Outpost API as the benchmarks use it: JSON requests over one
// keep-alive agent (so a timed request is one round trip, not a TCP handshake), errors that
// carry the status and the body, and streamed execs whose output is counted as it arrives,
// never kept: SSE events with base64 output (node:http), or binary frames with raw output
// read with fetch, the way an API client that wants throughput would.
import { Agent, request } from "node:http";
import { FrameCounter } from "./frame-count.ts";

export const FRAMES_CONTENT_TYPE = "application/vnd.outpost.frames";

export interface ApiResponse<T> {
  status: number;
  body: T;
  /** The body as received, for error messages. */
  text: string;
}

export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly text: string,
  ) {
    super(`${method} ${path} → ${status}: ${text.slice(0, 2000)}`);
  }
}

export interface StreamedExec {
  /** Bytes of stdout after base64 decoding. */
  stdoutBytes: number;
  stderr: string;
  events: number;
  exit: { exitCode: number | null; signal: string | null; timedOut: boolean; durationMs: number } | undefined;
  /** Set when the stream carried an `error` event. */
  error?: { code: string; message: string };
  /** From sending the request to the end of the response. */
  ms: number;
}

export interface FramedExec {
  /** Payload bytes of the stdout frames. */
  stdoutBytes: number;
  stderr: string;
  frames: number;
  /** Body chunks fetch handed over. */
  chunks: number;
  exit: StreamedExec["exit"];
  error?: { code: string; message: string };
  /** Bytes of a frame cut off at the end (0 unless the stream broke). */
  pendingBytes: number;
  /** From sending the request to the end of the response. */
  ms: number;
}

export class OutpostApi {
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 16 });

  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  /** Any status is returned; use `expect` to throw on the unexpected ones. */
  call<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method,
          agent: this.#agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch {}
            resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** `call`, throwing an ApiError (status and body) unless the status is `status`. */
  async expect<T = any>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.call<T>(method, path, body);
    if (response.status !== status) throw new ApiError(method, path, response.status, response.text);
    return response.body;
  }

  /** POST /sandboxes/{id}/exec with `Accept: text/event-stream`, counting decoded stdout. */
  execStream(sandboxId: string, command: string | string[]): Promise<StreamedExec> {
    const path = `/api/v1/sandboxes/${sandboxId}/exec`;
    const payload = Buffer.from(JSON.stringify({ command }));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method: "POST",
          agent: this.#agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: "text/event-stream",
            "content-type": "application/json",
            "content-length": String(payload.length),
          },
        },
        (res) => {
          if (res.statusCode !== 200 || !String(res.headers["content-type"]).startsWith("text/event-stream")) {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => reject(new ApiError("POST", `${path} (SSE)`, res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
            return;
          }
          const result: StreamedExec = { stdoutBytes: 0, stderr: "", events: 0, exit: undefined, ms: 0 };
          // SSE is ASCII here (JSON with base64 inside), so latin1 decoding is exact and cheap.
          let buffer = "";
          const frame = (text: string) => {
            let type = "message";
            let data = "";
            for (const line of text.split("\n")) {
              if (line.startsWith("event: ")) type = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (!data) return; // a heartbeat comment
            result.events++;
            const parsed = JSON.parse(data);
            if (type === "stdout") result.stdoutBytes += Buffer.from(parsed.data, "base64").length;
            else if (type === "stderr") result.stderr += Buffer.from(parsed.data, "base64").toString("utf8");
            else if (type === "exit") result.exit = parsed;
            else if (type === "error") result.error = parsed;
          };
          res.on("data", (chunk: Buffer) => {
            buffer += chunk.toString("latin1");
            let boundary = buffer.indexOf("\n\n");
            while (boundary !== -1) {
              frame(buffer.slice(0, boundary));
              buffer = buffer.slice(boundary + 2);
              boundary = buffer.indexOf("\n\n");
            }
          });
          res.on("error", reject);
          res.on("end", () => {
            result.ms = performance.now() - started;
            resolve(result);
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** POST /sandboxes/{id}/exec with `Accept: application/vnd.outpost.frames`, read with
   *  fetch, counting the payload bytes of the stdout frames. */
  async execFrames(sandboxId: string, command: string | string[]): Promise<FramedExec> {
    const path = `/api/v1/sandboxes/${sandboxId}/exec`;
    const started = performance.now();
    const response = await fetch(`${this.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${this.token}`, accept: FRAMES_CONTENT_TYPE, "content-type": "application/json" },
      body: JSON.stringify({ command }),
    });
    if (response.status !== 200 || !(response.headers.get("content-type") ?? "").startsWith(FRAMES_CONTENT_TYPE)) {
      throw new ApiError("POST", `${path} (frames)`, response.status, await response.text());
    }
    const counter = new FrameCounter();
    let chunks = 0;
    const reader = response.body!.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      counter.push(value);
    }
    return framed(counter, chunks, started);
  }

  /** The same with node:http instead of fetch (no web streams), to show what the client costs. */
  execFramesHttp(sandboxId: string, command: string | string[]): Promise<FramedExec> {
    const path = `/api/v1/sandboxes/${sandboxId}/exec`;
    const payload = Buffer.from(JSON.stringify({ command }));
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const req = request(
        `${this.url}${path}`,
        {
          method: "POST",
          agent: this.#agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: FRAMES_CONTENT_TYPE,
            "content-type": "application/json",
            "content-length": String(payload.length),
          },
        },
        (res) => {
          if (res.statusCode !== 200 || !String(res.headers["content-type"]).startsWith(FRAMES_CONTENT_TYPE)) {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("end", () => reject(new ApiError("POST", `${path} (frames)`, res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))));
            return;
          }
          const counter = new FrameCounter();
          let chunks = 0;
          res.on("data", (chunk: Buffer) => {
            chunks++;
            try {
              counter.push(chunk);
            } catch (error) {
              res.destroy(error as Error);
            }
          });
          res.on("error", reject);
          res.on("end", () => resolve(framed(counter, chunks, started)));
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function framed(counter: FrameCounter, chunks: number, started: number): FramedExec {
  const { count } = counter;
  return {
    stdoutBytes: count.stdoutBytes,
    stderr: count.stderr,
    frames: count.frames,
    chunks,
    exit: count.exit as StreamedExec["exit"],
    ...(count.error ? { error: count.error as { code: string; message: string } } : {}),
    pendingBytes: counter.pendingBytes,
    ms: performance.now() - started,
  };
}
