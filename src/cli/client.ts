// The CLI's HTTP client. Server URL and token come from flags, then OUTPOST_URL /
// OUTPOST_TOKEN, then the data dir the server wrote (server.json, admin-token).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
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

/** The bytes of an answer, as text; rejects if the connection breaks before its end. */
async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const contentType = (response: IncomingMessage) => response.headers["content-type"] ?? "";

/**
 * Talks to the API with node:http / node:https rather than fetch: on Node 20, fetch loads
 * undici and compiles its WebAssembly HTTP parser on first use, ~165 ms of CPU that a
 * one-request CLI process pays in full; node:http parses with Node's built-in parser and
 * costs a few ms to load. Nothing in the CLI may touch fetch, Response or Headers.
 */
/** How long a JSON request may take, answer included (streams have no such limit);
 *  OUTPOST_REQUEST_TIMEOUT_MS changes it (a slow link to a remote server). */
const REQUEST_TIMEOUT_MS = Number(process.env.OUTPOST_REQUEST_TIMEOUT_MS) > 0 ? Number(process.env.OUTPOST_REQUEST_TIMEOUT_MS) : 60_000;

export class ApiClient {
  constructor(private readonly connection: Connection) {}

  get url(): string {
    return this.connection.url;
  }

  /** A JSON request and its whole answer, within REQUEST_TIMEOUT_MS (a server that never answers must not hang the CLI);
   *  `timeoutMs` for the few that wait on the network beyond Outpost (a git push). */
  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, timeoutMs = REQUEST_TIMEOUT_MS): Promise<T> {
    const deadline = AbortSignal.timeout(timeoutMs);
    try {
      return await this.#request<T>(method, path, body, headers, deadline);
    } catch (error) {
      if (deadline.aborted) throw new ApiError(0, "TIMEOUT", `Outpost at ${this.connection.url} did not answer within ${timeoutMs / 1000} s`);
      throw error;
    }
  }

  async #request<T>(method: string, path: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<T> {
    const response = await this.send(method, path, body, { accept: "application/json", ...headers }, signal);
    if (response.statusCode === 204) {
      response.resume();
      return undefined as T;
    }
    if (!contentType(response).includes("application/json")) {
      response.destroy();
      throw this.notOutpost(response);
    }
    let text: string;
    try {
      text = await readText(response);
    } catch {
      throw this.broken(response);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw this.notOutpost(response);
    }
  }

  /** Every item of a paged list (`?limit=500`, following `nextCursor` to the end). */
  async listAll<T>(path: string): Promise<T[]> {
    const items: T[] = [];
    const separator = path.includes("?") ? "&" : "?";
    let cursor: string | null = null;
    do {
      const page: { items: T[]; nextCursor: string | null } = await this.request("GET", `${path}${separator}limit=500${cursor ? `&cursor=${cursor}` : ""}`);
      items.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor);
    return items;
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

  /**
   * Opens a Server-Sent Events stream; refuses an answer that is not one. The body is read
   * as it is iterated (for `readSse`), so a slow reader slows the server down.
   */
  async stream(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<IncomingMessage> {
    const response = await this.send(method, path, body, { accept: "text/event-stream", ...headers }, signal);
    if (!contentType(response).includes("text/event-stream")) {
      response.destroy();
      throw this.notOutpost(response);
    }
    return response;
  }

  notOutpost(response: IncomingMessage): ApiError {
    return new ApiError(
      response.statusCode ?? 0,
      "NOT_OUTPOST",
      `the server at ${this.connection.url} did not answer like Outpost (got ${response.headers["content-type"] ?? "no content type"}); check --url or OUTPOST_URL`,
    );
  }

  private broken(response: IncomingMessage): ApiError {
    return new ApiError(response.statusCode ?? 0, "STREAM_BROKEN", `the connection to Outpost at ${this.connection.url} broke before its answer was complete`);
  }

  /**
   * Sends a request and resolves the raw response once its head has come (for streams: the
   * body is left unread, to be iterated); throws ApiError on a non-2xx answer, UNREACHABLE
   * when no answer came at all, and the signal's AbortError when it was aborted.
   */
  async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<IncomingMessage> {
    const href = `${this.connection.url}${path}`;
    const url = URL.canParse(href) ? new URL(href) : undefined;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new ApiError(0, "BAD_URL", `the server URL '${this.connection.url}' is not an http:// or https:// URL; check --url or OUTPOST_URL`);
    }
    // https is loaded only when used: TLS is a few more modules a local http server never needs.
    const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
    const payload = body !== undefined ? JSON.stringify(body) : undefined;
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, {
        method,
        signal,
        // A connection of its own, closed after the answer: no keep-alive socket to hold the
        // process open once the command is done.
        agent: false,
        headers: {
          ...(this.connection.token ? { authorization: `Bearer ${this.connection.token}` } : {}),
          ...(payload !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}),
          ...headers,
        },
      });
      req.once("response", resolve);
      // `on`, not `once`: a socket error after the answer came is emitted here too (the
      // response's reader gets its own); an unheard second one would crash the process.
      req.on("error", (error) => {
        if (signal?.aborted) reject(error);
        else reject(new ApiError(0, "UNREACHABLE", `cannot reach Outpost at ${this.connection.url} (is \`npm start\` running? set --url or OUTPOST_URL)`));
      });
      req.end(payload);
    });
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      const text = await readText(response).catch(() => "");
      let error: { code?: string; message?: string; hint?: unknown; requestId?: string } | undefined;
      try {
        error = (JSON.parse(text) as { error?: typeof error } | null)?.error;
      } catch {}
      throw new ApiError(status, error?.code ?? `HTTP_${status}`, error?.message ?? response.statusMessage ?? `HTTP ${status}`, {
        requestId: error?.requestId,
        hint: typeof error?.hint === "string" ? error.hint : undefined,
      });
    }
    return response;
  }

  /**
   * Sends a stream as the request body (read only as fast as the connection takes it, never
   * buffered whole) and resolves with the JSON answer. With `length` the body goes with a
   * Content-Length, else chunked. An error answer that comes while the body is still being
   * sent stops the sending and is thrown as an ApiError; a body that fails (a local tar
   * that exits badly) aborts the request, so the server commits nothing.
   */
  async upload<T>(method: string, path: string, body: NodeJS.ReadableStream, options: { contentType: string; length?: number }): Promise<T> {
    const href = `${this.connection.url}${path}`;
    const url = URL.canParse(href) ? new URL(href) : undefined;
    if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
      throw new ApiError(0, "BAD_URL", `the server URL '${this.connection.url}' is not an http:// or https:// URL; check --url or OUTPOST_URL`);
    }
    const { request } = url.protocol === "https:" ? await import("node:https") : await import("node:http");
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(url, {
        method,
        agent: false,
        headers: {
          ...(this.connection.token ? { authorization: `Bearer ${this.connection.token}` } : {}),
          accept: "application/json",
          "content-type": options.contentType,
          ...(options.length !== undefined ? { "content-length": String(options.length) } : {}),
        },
      });
      let failed = false;
      req.once("response", (answer) => {
        // An early answer (a refusal) ends the upload: what is left is not sent.
        body.unpipe(req);
        resolve(answer);
      });
      req.on("error", (error) => {
        if (failed) return reject(error);
        reject(new ApiError(0, "UNREACHABLE", `cannot reach Outpost at ${this.connection.url} (is \`npm start\` running? set --url or OUTPOST_URL)`));
      });
      body.once("error", (error) => {
        failed = true;
        req.destroy(error);
      });
      body.pipe(req);
    });
    const text = await readText(response).catch(() => {
      throw this.broken(response);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw this.notOutpost(response);
    }
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return parsed as T;
    const error = (parsed as { error?: { code?: string; message?: string; hint?: unknown; requestId?: string } } | null)?.error;
    throw new ApiError(status, error?.code ?? `HTTP_${status}`, error?.message ?? `HTTP ${status}`, {
      requestId: error?.requestId,
      hint: typeof error?.hint === "string" ? error.hint : undefined,
    });
  }
}

/** Parses a Server-Sent Events body into events (id, type, parsed data). */
export async function* readSse(body: AsyncIterable<Uint8Array | Buffer>): AsyncGenerator<{ id?: string; event: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of body) {
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
