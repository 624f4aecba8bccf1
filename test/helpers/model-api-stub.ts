// A stand-in for a model provider, for tests of the model gateway: real HTTP (or HTTPS) on
// 127.0.0.1 speaking the providers' wire formats, so the gateway's forwarding, credential
// swap and token metering run against what a provider really sends.
//   POST /v1/messages          Anthropic Messages API: JSON, or SSE when `stream: true`
//   POST /v1/chat/completions  OpenAI Chat Completions: JSON, or SSE when `stream: true`
//                              (the usage chunk only when `stream_options.include_usage`)
// A request without `x-api-key` or `authorization` gets the provider's 401. Every request is
// recorded (headers and parsed body) before it is answered. Streamed events are written one
// at a time, each after the previous one has been handed to the kernel, so a reader sees a
// stream, not one block; how TCP groups them is up to the network stack.
import { randomUUID } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The parsed JSON body, the raw text when it is not JSON, or null when there was none. */
  body: unknown;
}

export interface StubUsage {
  /** Fresh input tokens. OpenAI answers report `prompt_tokens` = input + cacheRead. */
  input: number;
  output: number;
  cacheRead?: number;
  /** Anthropic only: OpenAI has no such count. */
  cacheWrite?: number;
}

export interface ModelApiStub {
  /** `http://127.0.0.1:<port>` (or https), without a trailing slash. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** The usage every later answer reports. */
  setUsage(usage: StubUsage): void;
  close(): Promise<void>;
}

/** The text every answer carries, streamed as one delta per piece. */
export const STUB_REPLY_PIECES = ["Hello", " from", " the", " stub."];

export async function startModelApiStub(options: { tls?: { key: string; cert: string } } = {}): Promise<ModelApiStub> {
  const requests: RecordedRequest[] = [];
  let usage: Required<StubUsage> = { input: 10, output: 5, cacheRead: 0, cacheWrite: 0 };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const text = await readBody(req);
    const body = parseBody(text);
    const path = req.url ?? "/";
    requests.push({ method: req.method ?? "", path, headers: { ...req.headers }, body });
    res.socket?.setNoDelay(true);
    const route = `${req.method} ${path.split("?")[0]}`;
    const authorized = req.headers["x-api-key"] !== undefined || req.headers.authorization !== undefined;
    if (route === "POST /v1/messages") {
      if (!authorized) return json(res, 401, anthropicError("authentication_error", "x-api-key header is required"));
      if (!isObject(body)) return json(res, 400, anthropicError("invalid_request_error", "the body must be a JSON object"));
      return body["stream"] === true ? anthropicStream(res, body, usage) : json(res, 200, anthropicMessage(body, usage));
    }
    if (route === "POST /v1/chat/completions") {
      if (!authorized) return json(res, 401, openAiError("invalid_api_key", "You didn't provide an API key."));
      if (!isObject(body)) return json(res, 400, openAiError("invalid_request_error", "We could not parse the JSON body of your request."));
      return body["stream"] === true ? openAiStream(res, body, usage) : json(res, 200, openAiCompletion(body, usage));
    }
    return json(res, 404, { type: "error", error: { type: "not_found_error", message: `no route ${route}` } });
  };

  const listener = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, anthropicError("api_error", String(error)));
      else res.destroy();
    });
  };
  const server: Server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, listener) : createHttpServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
    port,
    requests,
    setUsage(next) {
      usage = { cacheRead: 0, cacheWrite: 0, ...next };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

// ---- Anthropic ----------------------------------------------------------------------------

function anthropicMessage(body: Record<string, unknown>, usage: Required<StubUsage>) {
  return {
    id: `msg_${randomUUID().replaceAll("-", "")}`,
    type: "message",
    role: "assistant",
    model: modelOf(body, "claude-stub"),
    content: [{ type: "text", text: STUB_REPLY_PIECES.join("") }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: anthropicUsage(usage, usage.output),
  };
}

async function anthropicStream(res: ServerResponse, body: Record<string, unknown>, usage: Required<StubUsage>) {
  startEventStream(res);
  const message = { ...anthropicMessage(body, usage), content: [], stop_reason: null, usage: anthropicUsage(usage, 1) };
  await sendEvent(res, "message_start", { type: "message_start", message });
  await sendEvent(res, "content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
  await sendEvent(res, "ping", { type: "ping" });
  for (const text of STUB_REPLY_PIECES) {
    await sendEvent(res, "content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
  }
  await sendEvent(res, "content_block_stop", { type: "content_block_stop", index: 0 });
  await sendEvent(res, "message_delta", {
    type: "message_delta",
    delta: { stop_reason: "end_turn", stop_sequence: null },
    usage: { output_tokens: usage.output },
  });
  await sendEvent(res, "message_stop", { type: "message_stop" });
  res.end();
}

function anthropicUsage(usage: Required<StubUsage>, outputTokens: number) {
  return {
    input_tokens: usage.input,
    cache_creation_input_tokens: usage.cacheWrite,
    cache_read_input_tokens: usage.cacheRead,
    output_tokens: outputTokens,
  };
}

function anthropicError(type: string, message: string) {
  return { type: "error", error: { type, message } };
}

// ---- OpenAI -------------------------------------------------------------------------------

function openAiCompletion(body: Record<string, unknown>, usage: Required<StubUsage>) {
  return {
    ...openAiChunkBase(body, "chat.completion"),
    choices: [{ index: 0, message: { role: "assistant", content: STUB_REPLY_PIECES.join(""), refusal: null }, logprobs: null, finish_reason: "stop" }],
    usage: openAiUsage(usage),
  };
}

async function openAiStream(res: ServerResponse, body: Record<string, unknown>, usage: Required<StubUsage>) {
  startEventStream(res);
  const streamOptions = body["stream_options"];
  const includeUsage = isObject(streamOptions) && streamOptions["include_usage"] === true;
  const base = openAiChunkBase(body, "chat.completion.chunk");
  // With include_usage every chunk carries `usage: null` but the extra last one.
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...usageField,
  });
  await sendEvent(res, undefined, chunk({ role: "assistant", content: "" }, null));
  for (const content of STUB_REPLY_PIECES) await sendEvent(res, undefined, chunk({ content }, null));
  await sendEvent(res, undefined, chunk({}, "stop"));
  if (includeUsage) await sendEvent(res, undefined, { ...base, choices: [], usage: openAiUsage(usage) });
  await sendEvent(res, undefined, "[DONE]");
  res.end();
}

function openAiChunkBase(body: Record<string, unknown>, object: string) {
  return {
    id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
    object,
    created: Math.floor(Date.now() / 1000),
    model: modelOf(body, "gpt-stub"),
    system_fingerprint: "fp_stub",
  };
}

function openAiUsage(usage: Required<StubUsage>) {
  const prompt = usage.input + usage.cacheRead;
  return {
    prompt_tokens: prompt,
    completion_tokens: usage.output,
    total_tokens: prompt + usage.output,
    prompt_tokens_details: { cached_tokens: usage.cacheRead, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function openAiError(code: string, message: string) {
  return { error: { message, type: "invalid_request_error", param: null, code } };
}

// ---- HTTP ---------------------------------------------------------------------------------

function startEventStream(res: ServerResponse) {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" });
  res.flushHeaders();
}

/** Writes one SSE event and resolves once it has been handed to the kernel. `data` strings go as they are. */
function sendEvent(res: ServerResponse, event: string | undefined, data: unknown): Promise<void> {
  const text = `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`;
  return new Promise((resolve, reject) => res.write(text, (error) => (error ? reject(error) : resolve())));
}

function json(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function parseBody(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function modelOf(body: Record<string, unknown>, fallback: string): string {
  return typeof body["model"] === "string" ? body["model"] : fallback;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
