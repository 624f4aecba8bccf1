// The CLI's HTTP client. Server URL and token come from flags, then OUTPOST_URL /
// OUTPOST_TOKEN, then the data dir the server wrote (server.json, admin-token).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { dataPaths } from "../config/data-dir.ts";
import type { GlobalFlags } from "./args.ts";

export class ApiError extends Error {
  readonly requestId?: string;
  /** The server's one line on what to do (the error body's `hint`), printed under the message. */
  readonly hint?: string;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    options: { requestId?: string; hint?: string } = {},
  ) {
    super(message);
    this.name = "ApiError";
    this.requestId = options.requestId;
    this.hint = options.hint;
  }
}

export interface Connection {
  url: string;
  token: string | undefined;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

export function resolveConnection(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Connection {
  const paths = dataPaths(resolve(flags["data-dir"] ?? env.OUTPOST_DATA_DIR ?? ".outpost"));
  let fileUrl: string | undefined;
  try {
    fileUrl = JSON.parse(readOptional(paths.serverInfo) ?? "{}").url;
  } catch {}
  const port = env.OUTPOST_PORT ?? "7300";
  const url = (flags.url ?? env.OUTPOST_URL ?? fileUrl ?? `http://127.0.0.1:${port}`).replace(/\/$/, "");
  const token = flags.token ?? env.OUTPOST_TOKEN ?? readOptional(paths.adminToken);
  return { url, token };
}

export class ApiClient {
  constructor(private readonly connection: Connection) {}

  get url(): string {
    return this.connection.url;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const response = await this.fetch(method, path, body, headers);
    if (response.status === 204) return undefined as T;
    if (!(response.headers.get("content-type") ?? "").includes("application/json")) throw this.notOutpost(response);
    try {
      return (await response.json()) as T;
    } catch {
      throw this.notOutpost(response);
    }
  }

  /**
   * A create that is safe to retry: every attempt carries the same Idempotency-Key, and a
   * connection that failed before any answer is tried once more (the server may have made
   * the resource; the key makes the retry answer that one instead of making a second).
   */
  async create<T>(path: string, body?: unknown): Promise<T> {
    const headers = { "idempotency-key": randomUUID() };
    try {
      return await this.request<T>("POST", path, body, headers);
    } catch (error) {
      if (!(error instanceof ApiError && error.code === "UNREACHABLE")) throw error;
      return this.request<T>("POST", path, body, headers);
    }
  }

  /** Opens a Server-Sent Events stream; refuses an answer that is not one. */
  async stream(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<ReadableStream<Uint8Array>> {
    const response = await this.fetch(method, path, body, { accept: "text/event-stream", ...headers }, signal);
    if (!(response.headers.get("content-type") ?? "").includes("text/event-stream") || !response.body) throw this.notOutpost(response);
    return response.body;
  }

  notOutpost(response: Response): ApiError {
    return new ApiError(
      response.status,
      "NOT_OUTPOST",
      `the server at ${this.connection.url} did not answer like Outpost (got ${response.headers.get("content-type") ?? "no content type"}); check --url or OUTPOST_URL`,
    );
  }

  /** Raw response (for streams); throws ApiError on a non-2xx answer. */
  async fetch(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.connection.url}${path}`, {
        method,
        signal,
        headers: {
          ...(this.connection.token ? { authorization: `Bearer ${this.connection.token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      if ((error as Error).name === "AbortError") throw error;
      throw new ApiError(0, "UNREACHABLE", `cannot reach Outpost at ${this.connection.url} (is \`npm start\` running? set --url or OUTPOST_URL)`);
    }
    if (!response.ok) {
      const payload = (await response.json().catch(() => null)) as { error?: { code: string; message: string; hint?: string; requestId?: string } } | null;
      const error = payload?.error;
      throw new ApiError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? response.statusText, {
        requestId: error?.requestId,
        hint: typeof error?.hint === "string" ? error.hint : undefined,
      });
    }
    return response;
  }
}

/** Parses a Server-Sent Events body into events (id, type, parsed data). */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; event: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary = buffer.indexOf("\n\n");
    while (boundary !== -1) {
      const frame = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf("\n\n");
      let id: string | undefined;
      let event = "message";
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") id = value;
        else if (field === "event") event = value;
        else if (field === "data") data.push(value);
      }
      if (!data.length) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data.join("\n"));
      } catch {
        throw new ApiError(0, "NOT_OUTPOST", "the event stream carried something other than JSON; is --url an Outpost server?");
      }
      yield { id, event, data: parsed };
    }
  }
}
