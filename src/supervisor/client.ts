// The control plane's client for a sandbox's supervisor (protocol 2, see
// docs/supervisor-protocol.md), over a transport (the link's HTTP/2 session, or a test's).
// Streams (exec, logs) are parsed incrementally with a bounded line buffer and read only
// as fast as the caller consumes them, so backpressure reaches the process in the sandbox.
// Every line is shape-checked; a stream that ends without its final line throws
// SUPERVISOR_STREAM_BROKEN. Every call has a deadline for the supervisor's answer
// (answerTimeoutMs; JSON answers must also arrive whole within it): a supervisor that never
// answers costs a SUPERVISOR_TIMEOUT, never a hung request.
//
// exec() and processLogs() resolve once the supervisor accepted the request (so a refused
// command is an ordinary rejected promise), then hand back the stream to iterate:
//   for await (const event of await client.exec({ command: ["ls"] }, { signal })) …
// Aborting the signal, or leaving the loop early, closes the connection; for exec the
// supervisor then kills the command's process group.
import type { Duplex } from "node:stream";
import type { ByteBudget, SupervisorTransport, TransportResponse } from "./client-transport.ts";
import {
  asArchiveSummary,
  asDeletePathResult,
  asErrorBody,
  asExecEvent,
  asFileContentHead,
  asFileInfo,
  asHealth,
  asLogLine,
  asPortList,
  asProcess,
  asProcessInputResult,
  asProcessList,
  asTerminal,
  asTerminalExit,
  asTerminalList,
  asTerminalScreen,
  asWatchLine,
  asWriteFileResult,
} from "./client-validate.ts";
import { encodeFrame, encodeJsonFrame, FRAME, FRAMES_CONTENT_TYPE, type Frame, FrameDecoder, FrameError, frameJson } from "./frames.ts";
import { SUPPORTED_PROTOCOLS } from "./link/versions.ts";
import { LineTooLongError, splitLines } from "./ndjson.ts";
import type {
  ArchiveSummary,
  DeletePathRequest,
  DeletePathResult,
  FileContentHead,
  FileInfo,
  MakeDirectoryRequest,
  MovePathRequest,
  WatchLine,
  WriteFileResult,
} from "./protocol.ts";
import {
  type AllowedSignal,
  type CreateTerminalRequest,
  type ExecEvent,
  type ExecRequest,
  type HealthResponse,
  type LogExitLine,
  type LogRecord,
  type PortList,
  PROTOCOL_HEADER,
  type Process,
  type ProcessInputResult,
  type ProcessList,
  type StartProcessRequest,
  type Terminal,
  type TerminalExit,
  type TerminalList,
} from "./protocol.ts";

export type { SupervisorTransport } from "./client-transport.ts";

/** Codes raised by the client itself; the supervisor's own codes (PROCESS_NOT_FOUND, …) pass through. */
export type ClientErrorCode =
  | "SUPERVISOR_UNAVAILABLE"
  | "SUPERVISOR_PROTOCOL_MISMATCH"
  | "SUPERVISOR_STREAM_BROKEN"
  | "SUPERVISOR_BAD_RESPONSE"
  | "SUPERVISOR_TIMEOUT";

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
/** An error answer holds a code and a message (kept to 1000 characters): anything bigger is not one. */
const MAX_ERROR_RESPONSE_BYTES = 64 * 1024;
/** A stream line holds one pipe read (≤ 64 KiB, a frame at most 1 MiB) in base64: 1.5 MiB bounds
 * what one stream of one sandbox can make the control plane hold while a line is incomplete. */
const MAX_LINE_BYTES = 1536 * 1024;

/** How long the supervisor has to answer a request (headers; whole body for JSON answers). */
export const DEFAULT_ANSWER_TIMEOUT_MS = 15_000;

export interface SupervisorClientOptions {
  transport: SupervisorTransport;
  answerTimeoutMs?: number;
}

/** One event of a framed exec: like ExecEvent, with the output as bytes. */
export type ExecChunk = Exclude<ExecEvent, { type: "stdout" | "stderr" }> | { type: "stdout" | "stderr"; data: Buffer };

export interface PtyOptions {
  command: string | string[];
  cwd?: string;
  env?: Record<string, string>;
  cols: number;
  rows: number;
}

/** A terminal in the sandbox: output events to iterate, input to write. */
export interface PtySession {
  events: AsyncIterable<ExecChunk>;
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  /** Hangs the terminal up. */
  close(): void;
}

/** What an attached terminal sends: a whole-screen redraw's start, output bytes, and its shell's exit last. */
export type TerminalEvent =
  | { type: "screen"; cols: number; rows: number }
  | { type: "output"; data: Buffer }
  | { type: "exit"; exitCode: number | null; signal: string | null; durationMs: number };

/** A client attached to a terminal session: its events to iterate, its input to write. */
export interface TerminalAttachment {
  /** A `screen` event and the redraw's bytes first, then live output; again a screen when the
   * reader fell too far behind; `exit` last. Reading slowly slows nothing but this reader. */
  events: AsyncIterable<TerminalEvent>;
  /** Input, as typed. False: the stream is full; wait for drained() before writing more. */
  write(data: Buffer | string): boolean;
  drained(): Promise<void>;
  resize(cols: number, rows: number): void;
  /** Detaches (the shell keeps running). */
  close(): void;
}

/** Input goes out in frames of at most this size (the supervisor refuses frames over 256 KiB). */
const TERMINAL_INPUT_FRAME_BYTES = 64 * 1024;

export class SupervisorClient {
  private readonly transport: SupervisorTransport;
  private readonly answerTimeoutMs: number;

  constructor(options: SupervisorClientOptions) {
    this.transport = options.transport;
    this.answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  }

  async health(signal?: AbortSignal): Promise<HealthResponse> {
    const body = await this.json("GET", "/v1/health", undefined, 200, signal);
    const health = asHealth(body);
    if (!health) throw badResponse("GET /v1/health", body);
    return health;
  }

  /** Throws SUPERVISOR_PROTOCOL_MISMATCH unless the supervisor speaks a protocol this client knows. */
  async assertCompatible(signal?: AbortSignal): Promise<void> {
    const health = await this.health(signal);
    if (!SUPPORTED_PROTOCOLS.includes(health.protocol)) throw mismatch(String(health.protocol));
  }

  async exec(request: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ExecEvent>> {
    const signal = this.runDeadline(request, options.signal);
    const response = await this.open("POST", "/v1/exec", request, 200, signal);
    return this.lines(response, "exec", signal, (value) => {
      const event = asExecEvent(value);
      if (!event) throw badResponse("exec stream", value);
      return { item: event, last: event.type === "exit" };
    });
  }

  /** Like exec, with the output as raw bytes in binary frames (no base64 on either end). */
  async execFrames(request: ExecRequest, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<ExecChunk>> {
    const signal = this.runDeadline(request, options.signal);
    const response = await this.open("POST", "/v1/exec", request, 200, signal, { accept: FRAMES_CONTENT_TYPE });
    if (!(response.headers["content-type"] ?? "").startsWith(FRAMES_CONTENT_TYPE)) {
      response.close();
      throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", "exec: the supervisor did not answer with frames");
    }
    return this.frames(response.body, () => response.close(), "exec", signal);
  }

  /**
   * An exec with a timeout must end: the supervisor kills the command at timeoutMs and sends
   * the exit; if it does not (a hung or rogue supervisor), the client gives up answerTimeoutMs
   * later with SUPERVISOR_TIMEOUT. Without timeoutMs a command may legitimately run forever.
   */
  private runDeadline(request: ExecRequest, signal: AbortSignal | undefined): AbortSignal | undefined {
    if (request.timeoutMs === undefined) return signal;
    const limit = request.timeoutMs + this.answerTimeoutMs;
    const timeout = AbortSignal.timeout(limit);
    const late = new AbortController();
    timeout.addEventListener(
      "abort",
      () =>
        late.abort(
          new SupervisorClientError(
            "SUPERVISOR_TIMEOUT",
            `The sandbox's supervisor did not end the command within ${limit} ms of its ${request.timeoutMs} ms timeout.`,
          ),
        ),
      { once: true },
    );
    return signal ? AbortSignal.any([signal, late.signal]) : late.signal;
  }

  /** A command in a pseudo-terminal; resolves once it runs. Needs a transport with duplex streams. */
  async pty(options: PtyOptions, { signal }: { signal?: AbortSignal } = {}): Promise<PtySession> {
    const stream = await this.duplex("POST", "/v1/pty", { "content-type": FRAMES_CONTENT_TYPE, accept: FRAMES_CONTENT_TYPE }, signal, (s) =>
      s.write(encodeJsonFrame(FRAME.open, options)),
    );
    return {
      events: this.frames(stream, () => stream.destroy(), "pty", signal),
      write: (data) => {
        if (!stream.destroyed) stream.write(encodeFrame(FRAME.stdin, typeof data === "string" ? Buffer.from(data) : data));
      },
      resize: (cols, rows) => {
        if (!stream.destroyed) stream.write(encodeJsonFrame(FRAME.resize, { cols, rows }));
      },
      close: () => stream.destroy(),
    };
  }

  /** A raw byte stream to 127.0.0.1:port inside the sandbox (502 PORT_NOT_LISTENING when nothing listens). */
  async tunnel(port: number, { signal }: { signal?: AbortSignal } = {}): Promise<Duplex> {
    return this.duplex("POST", `/v1/tunnel?port=${encodeURIComponent(String(port))}`, { "content-type": "application/octet-stream" }, signal, () => {});
  }

  async startProcess(request: StartProcessRequest, signal?: AbortSignal): Promise<Process> {
    return this.process(await this.json("POST", "/v1/processes", request, 201, signal), "POST /v1/processes");
  }

  async listProcesses(signal?: AbortSignal): Promise<ProcessList> {
    const body = await this.json("GET", "/v1/processes", undefined, 200, signal);
    const list = asProcessList(body);
    if (!list) throw badResponse("GET /v1/processes", body);
    return list;
  }

  async getProcess(id: string, signal?: AbortSignal): Promise<Process> {
    return this.process(await this.json("GET", `/v1/processes/${encodeURIComponent(id)}`, undefined, 200, signal), "GET /v1/processes/{id}");
  }

  /** Signals the process's whole group; resolves with the process as it stands (still "running"). */
  async signalProcess(id: string, signal: AllowedSignal, abortSignal?: AbortSignal): Promise<Process> {
    const body = await this.json("POST", `/v1/processes/${encodeURIComponent(id)}/signal`, { signal }, 202, abortSignal);
    return this.process(body, "POST /v1/processes/{id}/signal");
  }

  /**
   * Writes to the stdin of a process started with `stdin: "pipe"` (at most 1 MiB a call;
   * more is PAYLOAD_TOO_LARGE); `eof` closes its stdin after `data`. Resolves once the
   * bytes are in the pipe: a process that reads slowly makes this wait, up to the answer
   * deadline (SUPERVISOR_TIMEOUT; the bytes may still arrive). STDIN_CLOSED when its input
   * has ended (or it has no pipe), PROCESS_NOT_RUNNING once it has exited.
   */
  async writeProcessInput(id: string, data: Buffer | string, options: { eof?: boolean; signal?: AbortSignal } = {}): Promise<ProcessInputResult> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const request = { data: bytes.toString("base64"), ...(options.eof ? { eof: true } : {}) };
    const body = await this.json("POST", `/v1/processes/${encodeURIComponent(id)}/input`, request, 202, options.signal);
    const result = asProcessInputResult(body);
    if (!result || result.written !== bytes.length) throw badResponse("POST /v1/processes/{id}/input", body);
    return result;
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

  /** The TCP ports listening inside the sandbox that a tunnel reaches (127.0.0.1, 0.0.0.0, ::), with their process when known. */
  async ports(signal?: AbortSignal): Promise<PortList> {
    const body = await this.json("GET", "/v1/ports", undefined, 200, signal);
    const list = asPortList(body);
    if (!list) throw badResponse("GET /v1/ports", body);
    return list;
  }

  /** Starts a terminal session (a login shell in the workspace); it runs until its shell exits or is killed. */
  async createTerminal(request: CreateTerminalRequest, signal?: AbortSignal): Promise<Terminal> {
    return this.terminal(await this.json("POST", "/v1/terminals", request, 201, signal), "POST /v1/terminals");
  }

  async listTerminals(signal?: AbortSignal): Promise<TerminalList> {
    const body = await this.json("GET", "/v1/terminals", undefined, 200, signal);
    const list = asTerminalList(body);
    if (!list) throw badResponse("GET /v1/terminals", body);
    return list;
  }

  async getTerminal(id: string, signal?: AbortSignal): Promise<Terminal> {
    return this.terminal(await this.json("GET", `/v1/terminals/${encodeURIComponent(id)}`, undefined, 200, signal), "GET /v1/terminals/{id}");
  }

  /** Hangs the terminal up (SIGKILL after a grace); resolves with how its shell ended. */
  async killTerminal(id: string, signal?: AbortSignal): Promise<TerminalExit> {
    const body = await this.json("DELETE", `/v1/terminals/${encodeURIComponent(id)}`, undefined, 200, signal);
    const exit = asTerminalExit(body);
    if (!exit) throw badResponse("DELETE /v1/terminals/{id}", body);
    return exit;
  }

  /** Attaches to a terminal session, resized to `cols`×`rows` when given; resolves once attached. */
  async attachTerminal(id: string, options: { cols?: number; rows?: number; signal?: AbortSignal } = {}): Promise<TerminalAttachment> {
    const query = options.cols !== undefined && options.rows !== undefined ? `?cols=${options.cols}&rows=${options.rows}` : "";
    const path = `/v1/terminals/${encodeURIComponent(id)}/attach${query}`;
    const stream = await this.duplex("POST", path, { "content-type": FRAMES_CONTENT_TYPE, accept: FRAMES_CONTENT_TYPE }, options.signal, () => {});
    const send = (frame: Buffer) => (stream.destroyed ? true : stream.write(frame));
    return {
      events: this.terminalEvents(stream, () => stream.destroy(), options.signal),
      write: (data) => {
        const bytes = typeof data === "string" ? Buffer.from(data) : data;
        let ok = true;
        for (let offset = 0; offset < bytes.length; offset += TERMINAL_INPUT_FRAME_BYTES) {
          ok = send(encodeFrame(FRAME.stdin, bytes.subarray(offset, offset + TERMINAL_INPUT_FRAME_BYTES))) && ok;
        }
        return ok;
      },
      drained: () =>
        stream.destroyed || !stream.writableNeedDrain
          ? Promise.resolve()
          : new Promise((resolve) => {
              const done = () => {
                stream.off("drain", done);
                stream.off("close", done);
                resolve();
              };
              stream.on("drain", done);
              stream.on("close", done);
            }),
      resize: (cols, rows) => {
        send(encodeJsonFrame(FRAME.resize, { cols, rows }));
      },
      close: () => stream.destroy(),
    };
  }

  /** An attach stream's frames as events, until the exit frame. */
  private async *terminalEvents(body: AsyncIterable<Buffer>, close: () => void, signal: AbortSignal | undefined): AsyncGenerator<TerminalEvent> {
    const what = "terminal";
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of body) {
        for (const frame of decoder.push(chunk)) {
          if (frame.type === FRAME.stdout) {
            yield { type: "output", data: frame.payload };
          } else if (frame.type === FRAME.screen) {
            const screen = asTerminalScreen(frameJson(frame));
            if (!screen) throw badResponse(`${what} screen frame`, undefined);
            yield { type: "screen", ...screen };
          } else if (frame.type === FRAME.exit) {
            const event = asExecEvent({ ...frameJson(frame), type: "exit" });
            if (event?.type !== "exit") throw badResponse(`${what} exit frame`, undefined);
            yield { type: "exit", exitCode: event.exitCode, signal: event.signal, durationMs: event.durationMs };
            return;
          } else if (frame.type === FRAME.error) {
            const error = asErrorBody({ error: frameJson(frame) });
            throw error ? new SupervisorClientError(error.code, error.message) : broken(what);
          } else {
            throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: unexpected frame type ${frame.type}`);
          }
        }
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SupervisorClientError) throw error;
      if (error instanceof FrameError) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: ${error.message}`);
      throw broken(what, error);
    } finally {
      close();
    }
    if (signal?.aborted) throw signal.reason;
    throw broken(what);
  }

  private terminal(body: unknown, what: string): Terminal {
    const terminal = asTerminal(body);
    if (!terminal) throw badResponse(what, body);
    return terminal;
  }

  private process(body: unknown, what: string): Process {
    const process = asProcess(body);
    if (!process) throw badResponse(what, body);
    return process;
  }

  /**
   * Sends a request and checks status and protocol; on an error status, throws the
   * supervisor's error. The answer's headers must come within answerTimeoutMs (a JSON body
   * then gets a deadline of its own in readJson; a stream ends with the caller's signal).
   */
  private async open(
    method: "GET" | "POST" | "DELETE",
    path: string,
    body: unknown,
    expected: number,
    signal?: AbortSignal,
    headers?: Record<string, string>,
  ): Promise<TransportResponse> {
    const deadline = this.deadline(`${method} ${path.split("?")[0]}`, signal);
    let response: TransportResponse;
    try {
      response = await this.transport.request({ method, path, body, headers, signal: deadline.signal });
    } catch (error) {
      deadline.clear();
      throw deadline.signal.aborted && !signal?.aborted ? deadline.signal.reason : error;
    }
    deadline.clear();
    // From here on the caller's signal alone ends the stream (the deadline was for the answer).
    if (signal) response = closeOnAbort(response, signal);
    const protocol = response.headers[PROTOCOL_HEADER];
    if (protocol === undefined || !SUPPORTED_PROTOCOLS.includes(Number(protocol))) {
      response.close();
      throw mismatch(protocol);
    }
    if (response.status === expected) return response;
    throw errorFrom(await this.readJson(response, `${method} ${path}`, signal).catch(() => undefined), `${method} ${path}`, response.status);
  }

  private async json(method: "GET" | "POST" | "DELETE", path: string, body: unknown, expected: number, signal?: AbortSignal): Promise<unknown> {
    return this.readJson(await this.open(method, path, body, expected, signal), `${method} ${path}`, signal);
  }

  /** A JSON body, bounded in size and read within answerTimeoutMs. */
  private async readJson(response: TransportResponse, what: string, signal?: AbortSignal): Promise<unknown> {
    const deadline = this.deadline(what, signal);
    const onAbort = () => response.close();
    deadline.signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await readJson(response, response.status >= 400 ? MAX_ERROR_RESPONSE_BYTES : MAX_JSON_RESPONSE_BYTES, this.transport.budget);
    } catch (error) {
      if (deadline.signal.aborted) throw deadline.signal.reason;
      throw error;
    } finally {
      deadline.clear();
      deadline.signal.removeEventListener("abort", onAbort);
    }
  }

  /** An AbortSignal that fires on the caller's signal or after answerTimeoutMs. */
  private deadline(what: string, signal?: AbortSignal): { signal: AbortSignal; clear(): void } {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) controller.abort(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(
      () =>
        controller.abort(new SupervisorClientError("SUPERVISOR_TIMEOUT", `The sandbox's supervisor did not answer ${what} within ${this.answerTimeoutMs} ms.`)),
      this.answerTimeoutMs,
    );
    return {
      signal: controller.signal,
      clear: () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      },
    };
  }

  /** Opens a stream with bytes both ways; checks the answer like open(). */
  private async duplex(
    method: "POST",
    path: string,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    first: (stream: Duplex) => void,
  ): Promise<Duplex> {
    if (!this.transport.openDuplex) throw new SupervisorClientError("SUPERVISOR_UNAVAILABLE", "this transport cannot carry streams both ways");
    const deadline = this.deadline(`${method} ${path.split("?")[0]}`, signal);
    let opened: Awaited<ReturnType<NonNullable<SupervisorTransport["openDuplex"]>>>;
    try {
      opened = await this.transport.openDuplex({ method, path, headers, signal: deadline.signal, first });
    } catch (error) {
      throw deadline.signal.aborted && !signal?.aborted ? deadline.signal.reason : error;
    } finally {
      deadline.clear();
    }
    const { status, headers: answered, stream } = opened;
    if (signal) {
      const onAbort = () => stream.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      stream.once("close", () => signal.removeEventListener("abort", onAbort));
    }
    const protocol = answered[PROTOCOL_HEADER];
    if (protocol === undefined || !SUPPORTED_PROTOCOLS.includes(Number(protocol))) {
      stream.destroy();
      throw mismatch(protocol);
    }
    if (status === 200) return stream;
    const answer = await this.readJson({ status, headers: answered, body: stream, close: () => stream.destroy() }, path, signal).catch(() => undefined);
    throw errorFrom(answer, `${method} ${path}`, status);
  }

  /** Iterates binary frames (started, stdout/stderr, exit; error) until the exit frame. */
  private async *frames(body: AsyncIterable<Buffer>, close: () => void, what: string, signal: AbortSignal | undefined): AsyncGenerator<ExecChunk> {
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of body) {
        for (const frame of decoder.push(chunk)) {
          const event = frameEvent(frame, what);
          yield event;
          if (event.type === "exit") return;
        }
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SupervisorClientError) throw error;
      if (error instanceof FrameError) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: ${error.message}`);
      throw broken(what, error);
    } finally {
      close();
    }
    if (signal?.aborted) throw signal.reason;
    throw broken(what);
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
  // ---- files (docs/supervisor-protocol.md, "Files"): paths are confined by the supervisor
  // to the workspace and home; bytes stream both ways under HTTP/2 flow control.

  /** What a path is (following symlinks that stay inside); a folder comes with its entries. */
  async fileInfo(path: string, signal?: AbortSignal): Promise<FileInfo> {
    const body = await this.json("GET", `/v1/files?${fileQuery({ path })}`, undefined, 200, signal);
    const info = asFileInfo(body);
    if (!info) throw badResponse("GET /v1/files", body);
    return info;
  }

  /**
   * A file's bytes from `start` (default 0) up to `end` (exclusive; default its size);
   * resolves once the supervisor opened it. The body yields exactly `length` bytes, each
   * chunk within answerTimeoutMs of asking, or throws.
   */
  async readFile(path: string, options: { start?: number; end?: number; signal?: AbortSignal } = {}): Promise<FileContent> {
    const response = await this.open("GET", `/v1/files/content?${fileQuery({ path, start: options.start, end: options.end })}`, undefined, 200, options.signal);
    const head = asFileContentHead(response.headers);
    if (!head) {
      response.close();
      throw badResponse("GET /v1/files/content", undefined);
    }
    return { ...head, body: this.bytes(response, "file read", options.signal, head.length) };
  }

  /** Writes `body` as the file at `path`, atomically (a temporary file renamed into place);
   * `mode` sets its permissions (default: a replaced file's, or 0o644). */
  async writeFile(
    path: string,
    body: AsyncIterable<Uint8Array>,
    options: { parents?: boolean; overwrite?: boolean; mode?: number; signal?: AbortSignal } = {},
  ): Promise<WriteFileResult> {
    const mode = options.mode === undefined ? undefined : (options.mode & 0o7777).toString(8).padStart(3, "0");
    const query = fileQuery({ path, parents: options.parents, overwrite: options.overwrite, mode });
    const answer = await this.upload(`/v1/files/content?${query}`, body, "file write", options.signal);
    const result = asWriteFileResult(answer);
    if (!result) throw badResponse("POST /v1/files/content", answer);
    return result;
  }

  async makeDirectory(request: MakeDirectoryRequest, signal?: AbortSignal): Promise<FileInfo> {
    const body = await this.json("POST", "/v1/files/mkdir", request, 201, signal);
    const info = asFileInfo(body);
    if (!info) throw badResponse("POST /v1/files/mkdir", body);
    return info;
  }

  /** Renames `from` to `to` (the entry itself: a symlink moves as a link). */
  async movePath(request: MovePathRequest, signal?: AbortSignal): Promise<FileInfo> {
    const body = await this.json("POST", "/v1/files/move", request, 200, signal);
    const info = asFileInfo(body);
    if (!info) throw badResponse("POST /v1/files/move", body);
    return info;
  }

  /** Deletes a file or symlink, or a folder (with what is in it only when `recursive`). */
  async deletePath(request: DeletePathRequest, signal?: AbortSignal): Promise<DeletePathResult> {
    const body = await this.json("POST", "/v1/files/delete", request, 200, signal);
    const result = asDeletePathResult(body);
    if (!result) throw badResponse("POST /v1/files/delete", body);
    return result;
  }

  /** A folder (or a file) as a tar archive, streamed; each chunk must come within answerTimeoutMs of asking. */
  async downloadArchive(path: string, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<Buffer>> {
    const response = await this.open("GET", `/v1/files/archive?${fileQuery({ path })}`, undefined, 200, options.signal);
    if (!(response.headers["content-type"] ?? "").startsWith("application/x-tar")) {
      response.close();
      throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", "GET /v1/files/archive: the supervisor did not answer with a tar archive");
    }
    return this.bytes(response, "archive download", options.signal);
  }

  /** Unpacks the tar archive `body` into the folder `path` (made when missing). */
  async uploadArchive(path: string, body: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<ArchiveSummary> {
    const answer = await this.upload(`/v1/files/archive?${fileQuery({ path })}`, body, "archive upload", options.signal);
    const summary = asArchiveSummary(answer);
    if (!summary) throw badResponse("POST /v1/files/archive", answer);
    return summary;
  }

  /**
   * Changes in a folder while the iteration runs: `ready` first (the kernel watches it),
   * then `changes` and `overflow` lines, and `end` last when the folder went away. A watch
   * may be idle for as long as nothing changes; abort the signal (or leave the loop) to end it.
   */
  async watchFolder(path: string, options: { signal?: AbortSignal } = {}): Promise<AsyncIterable<WatchLine>> {
    const response = await this.open("GET", `/v1/files/watch?${fileQuery({ path })}`, undefined, 200, options.signal);
    return this.lines(response, "watch", options.signal, (value) => {
      const line = asWatchLine(value);
      if (!line) throw badResponse("watch stream", value);
      return { item: line, last: line.type === "end" };
    });
  }

  /**
   * Bytes of a streamed answer: each chunk must come within answerTimeoutMs of asking (time
   * the caller takes to consume one does not count), and with `expected`, exactly that
   * many bytes must come. An early end or a reset stream is SUPERVISOR_STREAM_BROKEN.
   */
  private async *bytes(response: TransportResponse, what: string, signal: AbortSignal | undefined, expected?: number): AsyncGenerator<Buffer> {
    const iterator = response.body[Symbol.asyncIterator]();
    let received = 0;
    try {
      for (;;) {
        const next = await withinDeadline(iterator.next(), this.answerTimeoutMs, () => {
          response.close();
          return new SupervisorClientError("SUPERVISOR_TIMEOUT", `The sandbox's supervisor sent nothing of the ${what} for ${this.answerTimeoutMs} ms.`);
        });
        if (next.done) break;
        received += next.value.length;
        if (expected !== undefined && received > expected) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: more bytes than announced`);
        yield next.value;
      }
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (error instanceof SupervisorClientError) throw error;
      throw broken(what, error);
    } finally {
      response.close();
    }
    if (signal?.aborted) throw signal.reason;
    if (expected !== undefined && received !== expected) throw broken(what);
  }

  /**
   * Sends `source` as a request body (stdin frames, then eof) with flow control and resolves
   * with the JSON answer.
   * Deadlines: the supervisor must take more within answerTimeoutMs whenever the stream is
   * full, and answer within answerTimeoutMs of the body's end. A source that fails (its
   * client went away) cancels the stream, so the supervisor commits nothing.
   */
  private async upload(path: string, source: AsyncIterable<Uint8Array>, what: string, signal?: AbortSignal): Promise<unknown> {
    if (!this.transport.openDuplex) throw new SupervisorClientError("SUPERVISOR_UNAVAILABLE", "this transport cannot stream a request body");
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    if (signal?.aborted) onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    let answerTimer: NodeJS.Timeout | undefined;
    let answered = false;
    const timeout = (message: string) => controller.abort(new SupervisorClientError("SUPERVISOR_TIMEOUT", message));
    const pump = async (stream: Duplex) => {
      try {
        for await (const chunk of source) {
          for (let offset = 0; offset < chunk.length; offset += UPLOAD_FRAME_BYTES) {
            if (answered || controller.signal.aborted || stream.destroyed) return;
            const part = Buffer.from(chunk.buffer, chunk.byteOffset + offset, Math.min(UPLOAD_FRAME_BYTES, chunk.length - offset));
            if (!stream.write(encodeFrame(FRAME.stdin, part))) {
              const drained = await waitDrain(stream, this.answerTimeoutMs);
              if (!drained && !answered && !stream.destroyed) {
                return timeout(`The sandbox's supervisor stopped taking the ${what} for ${this.answerTimeoutMs} ms.`);
              }
            }
          }
        }
        if (answered || stream.destroyed) return;
        // The eof frame is what tells the supervisor the body is whole (a cancelled stream
        // may still look ended to it): it commits nothing without one.
        stream.end(encodeFrame(FRAME.eof));
        answerTimer = setTimeout(
          () => timeout(`The sandbox's supervisor did not answer the ${what} within ${this.answerTimeoutMs} ms of its end.`),
          this.answerTimeoutMs,
        );
      } catch (error) {
        // The source failed (the API client went away): the stream is cancelled, nothing is committed.
        controller.abort(error);
      }
    };
    try {
      const opened = await this.transport.openDuplex({
        method: "POST",
        path,
        headers: { "content-type": FRAMES_CONTENT_TYPE },
        signal: controller.signal,
        first: (stream) => void pump(stream),
      });
      answered = true;
      clearTimeout(answerTimer);
      const { status, headers, stream } = opened;
      const response = { status, headers, body: stream as AsyncIterable<Buffer>, close: () => stream.destroy() };
      const protocol = headers[PROTOCOL_HEADER];
      if (protocol === undefined || !SUPPORTED_PROTOCOLS.includes(Number(protocol))) {
        stream.destroy();
        throw mismatch(protocol);
      }
      const answer = await this.readJson(response, `POST ${path.split("?")[0]}`, controller.signal).catch((error: unknown) => {
        if (status === 200) throw error;
        return undefined;
      });
      if (status !== 200) throw errorFrom(answer, `POST ${path.split("?")[0]}`, status);
      return answer;
    } catch (error) {
      if (controller.signal.aborted) throw controller.signal.reason;
      throw error;
    } finally {
      answered = true;
      clearTimeout(answerTimer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * Reads a JSON answer of at most `limit` bytes. The bytes held count against the link's
 * buffer budget (shared by every stream of one sandbox), so many concurrent large answers
 * from one sandbox cannot grow the control plane's memory past it.
 */
async function readJson(response: TransportResponse, limit: number, budget: ByteBudget | undefined): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body) {
      size += chunk.length;
      if (size > limit) throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `the supervisor's answer is larger than ${limit} bytes`);
      if (budget && !budget.take(chunk.length)) {
        size -= chunk.length;
        throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", "the sandbox's answers in flight are larger than the link allows");
      }
      chunks.push(chunk);
    }
  } finally {
    response.close();
    budget?.give(size);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
  } catch {
    throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", "the supervisor's answer is not JSON");
  }
}

/** The same response, closed when `signal` aborts (the listener goes with the response). */
function closeOnAbort(response: TransportResponse, signal: AbortSignal): TransportResponse {
  const onAbort = () => response.close();
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return {
    ...response,
    close: () => {
      signal.removeEventListener("abort", onAbort);
      response.close();
    },
  };
}

/** One frame as an event, shape-checked like the NDJSON lines. */
function frameEvent(frame: Frame, what: string): ExecChunk {
  switch (frame.type) {
    case FRAME.stdout:
      return { type: "stdout", data: frame.payload };
    case FRAME.stderr:
      return { type: "stderr", data: frame.payload };
    case FRAME.started:
    case FRAME.exit: {
      const value = { ...frameJson(frame), type: frame.type === FRAME.started ? "started" : "exit" };
      const event = asExecEvent(value);
      if (event?.type === "started" || event?.type === "exit") return event;
      throw badResponse(`${what} frame`, value);
    }
    case FRAME.error: {
      const error = asErrorBody({ error: frameJson(frame) });
      throw error ? new SupervisorClientError(error.code, error.message) : broken(what);
    }
    default:
      throw new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: unexpected frame type ${frame.type}`);
  }
}

/** The supervisor's error answer as an error (its message bounded and cleaned), or a bad response. */
function errorFrom(answer: unknown, what: string, status: number): SupervisorClientError {
  const error = asErrorBody(answer);
  if (error) return new SupervisorClientError(error.code, error.message, status);
  return new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what} answered ${status} without an error body`, status);
}

function mismatch(theirs: string | undefined): SupervisorClientError {
  const message =
    theirs === undefined
      ? `The peer did not say which supervisor protocol it speaks (no ${PROTOCOL_HEADER} header); this control plane speaks protocol ${SUPPORTED_PROTOCOLS.join(", ")}.`
      : `The sandbox's supervisor speaks protocol ${theirs.slice(0, 20)}, but this control plane speaks protocol ${SUPPORTED_PROTOCOLS.join(", ")}; restart the sandbox so it gets the matching supervisor.`;
  return new SupervisorClientError("SUPERVISOR_PROTOCOL_MISMATCH", message);
}

function broken(what: string, cause?: unknown): SupervisorClientError {
  const reason = cause instanceof Error ? `: ${cause.message}` : "";
  return new SupervisorClientError("SUPERVISOR_STREAM_BROKEN", `The supervisor's ${what} stream ended before its final line${reason}.`, undefined, { cause });
}

/**
 * The answer did not fit the protocol. The message names where, never what: the value is
 * the sandbox's, and echoing it would carry its text into API answers and logs.
 */
function badResponse(what: string, _value: unknown): SupervisorClientError {
  return new SupervisorClientError("SUPERVISOR_BAD_RESPONSE", `${what}: the sandbox's supervisor answered something that does not follow the protocol.`);
}

/** Uploads go out as stdin frames of at most this size, then an eof frame. */
const UPLOAD_FRAME_BYTES = 64 * 1024;

/** What GET /v1/files/content answers: the range's length, the file's size, mtime and mode, and the bytes. */
export interface FileContent extends FileContentHead {
  body: AsyncIterable<Buffer>;
}

/** A query string of the file routes; absent values are left out, flags are "1"/"0". */
function fileQuery(values: Record<string, string | number | boolean | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    query.set(name, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return query.toString();
}

/** Resolves like `promise`, or rejects with `onTimeout()` after `ms`. */
function withinDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** True once `stream` can take more; false when it closed or `ms` passed first. */
function waitDrain(stream: Duplex, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (drained: boolean) => {
      clearTimeout(timer);
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      resolve(drained);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const timer = setTimeout(() => done(false), ms);
    stream.on("drain", onDrain);
    stream.on("close", onClose);
  });
}
