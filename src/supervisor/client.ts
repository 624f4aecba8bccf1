// The control plane's client for a sandbox's supervisor (protocol v1, see
// docs/supervisor-protocol.md). node:http only, through a swappable transport
// (client-transport.ts). Streams (exec, logs) are parsed incrementally with a bounded
// line buffer and read only as fast as the caller consumes them, so backpressure reaches
// the process in the sandbox. Every line is shape-checked; a stream that ends without its
// final line throws SUPERVISOR_STREAM_BROKEN.
//
// exec() and processLogs() resolve once the supervisor accepted the request (so a refused
// command is an ordinary rejected promise), then hand back the stream to iterate:
//   for await (const event of await client.exec({ command: ["ls"] }, { signal })) …
// Aborting the signal, or leaving the loop early, closes the connection; for exec the
// supervisor then kills the command's process group.
import { type SupervisorTransport, type TransportResponse, UnixSocketTransport } from "./client-transport.ts";
import { asExecEvent, asHealth, asLogLine, asProcess } from "./client-validate.ts";
import { LineTooLongError, splitLines } from "./ndjson.ts";
import {
  type AllowedSignal,
  type ExecEvent,
  type ExecRequest,
  type HealthResponse,
  type LogExitLine,
  type LogRecord,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  type Process,
  type ProcessList,
  type StartProcessRequest,
} from "./protocol.ts";

export type { SupervisorTransport } from "./client-transport.ts";
export { UnixSocketTransport } from "./client-transport.ts";

/** Codes raised by the client itself; the supervisor's own codes (PROCESS_NOT_FOUND, …) pass through. */
export type ClientErrorCode = "SUPERVISOR_UNAVAILABLE" | "SUPERVISOR_PROTOCOL_MISMATCH" | "SUPERVISOR_STREAM_BROKEN" | "SUPERVISOR_BAD_RESPONSE";

export class SupervisorClientError extends Error {
  constructor(
    /** A ClientErrorCode, or the supervisor's error code. */
    readonly code: string,
    message: string,
    /** The HTTP status when the supervisor answered with an error. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "SupervisorClientError";
  }
}

/** JSON answers are small (the largest is the process list); anything bigger is not a supervisor. */
const MAX_JSON_RESPONSE_BYTES = 16 * 1024 * 1024;
/** A stream line holds one pipe read (≤ 64 KiB) in base64; generous headroom. */
const MAX_LINE_BYTES = 4 * 1024 * 1024;

export interface SupervisorClientOptions {
  socketPath?: string;
  /** Another way to reach the supervisor (tests, the future tunnel); overrides socketPath. */
  transport?: SupervisorTransport;
}

export class SupervisorClient {
  private readonly transport: SupervisorTransport;

  constructor(options: SupervisorClientOptions) {
    if (options.transport) this.transport = options.transport;
    else if (options.socketPath) this.transport = new UnixSocketTransport(options.socketPath);
    else throw new TypeError("SupervisorClient needs a socketPath or a transport");
  }

  async health(signal?: AbortSignal): Promise<HealthResponse> {
    const body = await this.json("GET", "/v1/health", undefined, 200, signal);
    const health = asHealth(body);
    if (!health) throw badResponse("GET /v1/health", body);
    return health;
  }

  /** Throws SUPERVISOR_PROTOCOL_MISMATCH unless the supervisor speaks this client's protocol. */
  async assertCompatible(signal?: AbortSignal): Promise<void> {
    const health = await this.health(signal);
    if (health.protocol !== PROTOCOL_VERSION) throw mismatch(String(health.protocol));
  }

  async exec(request: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ExecEvent>> {
    const response = await this.open("POST", "/v1/exec", request, 200, options.signal);
    return this.lines(response, "exec", options.signal, (value) => {
      const event = asExecEvent(value);
      if (!event) throw badResponse("exec stream", value);
      return { item: event, last: event.type === "exit" };
    });
  }

  async startProcess(request: StartProcessRequest, signal?: AbortSignal): Promise<Process> {
    return this.process(await this.json("POST", "/v1/processes", request, 201, signal), "POST /v1/processes");
  }

  async listProcesses(signal?: AbortSignal): Promise<ProcessList> {
    const body = await this.json("GET", "/v1/processes", undefined, 200, signal);
    const items = (body as { items?: unknown })?.items;
    if (!Array.isArray(items)) throw badResponse("GET /v1/processes", body);
    return { items: items.map((item) => this.process(item, "GET /v1/processes")) };
  }

  async getProcess(id: string, signal?: AbortSignal): Promise<Process> {
    return this.process(await this.json("GET", `/v1/processes/${encodeURIComponent(id)}`, undefined, 200, signal), "GET /v1/processes/{id}");
  }

  /** Signals the process's whole group; resolves with the process as it stands (still "running"). */
  async signalProcess(id: string, signal: AllowedSignal, abortSignal?: AbortSignal): Promise<Process> {
    const body = await this.json("POST", `/v1/processes/${encodeURIComponent(id)}/signal`, { signal }, 202, abortSignal);
    return this.process(body, "POST /v1/processes/{id}/signal");
  }

  /** Records with seq > after; with follow, until the process exited (the exit line is the
   * last item). Without follow the iteration ends after the current records, with an exit
   * line only if the process has already exited. */
  async processLogs(id: string, options: { after?: number; follow?: boolean; signal?: AbortSignal } = {}): Promise<AsyncIterable<LogRecord | LogExitLine>> {
    const query = new URLSearchParams();
    if (options.after !== undefined) query.set("after", String(options.after));
    if (options.follow) query.set("follow", "1");
    const path = `/v1/processes/${encodeURIComponent(id)}/logs${query.size > 0 ? `?${query}` : ""}`;
    const response = await this.open("GET", path, undefined, 200, options.signal);
    return this.lines<LogRecord | LogExitLine>(response, "logs", options.signal, (value) => {
      const line = asLogLine(value);
      if (!line) throw badResponse("logs stream", value);
      // "end" closes a non-follow answer for a running process: complete, nothing to yield.
      if ("type" in line && line.type === "end") return { last: true };
      return { item: line as LogRecord | LogExitLine, last: "type" in line };
    });
  }

  private process(body: unknown, what: string): Process {
    const process = asProcess(body);
    if (!process) throw badResponse(what, body);
    return process;
  }

  /** Sends a request and checks status and protocol; on an error status, throws the supervisor's error. */
  private async open(method: "GET" | "POST", path: string, body: unknown, expected: number, signal?: AbortSignal): Promise<TransportResponse> {
    const response = await this.transport.request({ method, path, body, signal });
    const protocol = response.headers[PROTOCOL_HEADER];
    if (protocol !== String(PROTOCOL_VERSION)) {
      response.close();
      throw mismatch(protocol);
    }
    if (response.status === expected) return response;
    const answer = await readJson(response).catch(() => undefined);
    const error = (answer as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (typeof error?.code === "string") throw new SupervisorClientError(error.code, String(error.message ?? error.code), response.status);
    throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${method} ${path} answered ${response.status} without an error body`, response.status);
  }

  private async json(method: "GET" | "POST", path: string, body: unknown, expected: number, signal?: AbortSignal): Promise<unknown> {
    return readJson(await this.open(method, path, body, expected, signal));
  }

  /** Iterates a response's NDJSON lines through `accept` until a line marked last. */
  private async *lines<T>(
    response: TransportResponse,
    what: string,
    signal: AbortSignal | undefined,
    accept: (value: unknown) => { item?: T; last: boolean },
  ): AsyncGenerator<T> {
    try {
      for await (const raw of splitLines(response.body, MAX_LINE_BYTES)) {
        let value: unknown;
        try {
          value = JSON.parse(raw.toString("utf8"));
        } catch {
          throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: a line is not JSON`);
        }
        const { item, last } = accept(value);
        if (item !== undefined) yield item;
        if (last) return;
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SupervisorClientError) throw error;
      if (error instanceof LineTooLongError) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: ${error.message}`);
      throw broken(what, error);
    } finally {
      // Early exit (break, abort, error) or done: either way this connection is finished.
      response.close();
    }
    if (signal?.aborted) throw signal.reason;
    throw broken(what);
  }
}

async function readJson(response: TransportResponse): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += chunk.length;
      if (size > MAX_JSON_RESPONSE_BYTES) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `response larger than ${MAX_JSON_RESPONSE_BYTES} bytes`);
      chunks.push(chunk);
    }
  } finally {
    response.close();
  }
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
  } catch {
    throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", "the supervisor's answer is not JSON");
  }
}

function mismatch(theirs: string | undefined): SupervisorClientError {
  const message =
    theirs === undefined
      ? `The peer did not say which supervisor protocol it speaks (no ${PROTOCOL_HEADER} header); this control plane speaks protocol ${PROTOCOL_VERSION}.`
      : `The sandbox's supervisor speaks protocol ${theirs}, but this control plane speaks protocol ${PROTOCOL_VERSION}; restart the sandbox so it gets the matching supervisor.`;
  return new SupervisorClientError("SUPERVISOR_PROTOCOL_MISMATCH", message);
}

function broken(what: string, cause?: unknown): SupervisorClientError {
  const reason = cause instanceof Error ? `: ${cause.message}` : "";
  return new SupervisorClientError("SUPERVISOR_STREAM_BROKEN", `The supervisor's ${what} stream ended before its final line${reason}.`, undefined, { cause });
}

function badResponse(what: string, value: unknown): SupervisorClientError {
  const text = JSON.stringify(value) ?? String(value);
  return new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: unexpected shape ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`);
}
