// Token usage read from a model provider's response as it streams past the gateway. The
// gateway tees the upstream body into a meter and, when the body ends, charges what the
// meter tells to the project's monthly budget.
//
// What is read:
//   anthropic  Messages API. JSON: `model`, `usage.{input_tokens, output_tokens,
//              cache_creation_input_tokens, cache_read_input_tokens}`. SSE: `message_start`
//              (`message.model`, `message.usage.*`), then `message_delta` whose
//              `usage.output_tokens` is a running total (the last one wins), and which newer
//              API versions also fill with the input and cache counts (taken when present).
//   openai     Chat Completions (`usage.{prompt_tokens, completion_tokens,
//              prompt_tokens_details.cached_tokens}`; streamed, only the last chunk carries
//              usage, and only when the request asked `stream_options.include_usage`) and the
//              Responses API (`usage.{input_tokens, output_tokens,
//              input_tokens_details.cached_tokens}`; streamed, in `response.completed` and the
//              other terminal events). OpenAI counts cached tokens inside its input count;
//              they are taken out of `inputTokens` and told as `cacheReadTokens`, so the four
//              counts never overlap and sum the same way for both providers.
//   gemini     generateContent / streamGenerateContent (`modelVersion`, `usageMetadata.{
//              promptTokenCount, candidatesTokenCount, cachedContentTokenCount,
//              thoughtsTokenCount, toolUsePromptTokenCount}`). Streamed (`alt=sse`), every
//              chunk carries the running totals (the last one wins); without `alt=sse` the
//              stream is one JSON array of those chunks. Like OpenAI, the prompt count holds
//              the cached tokens, which are moved to `cacheReadTokens`; thinking tokens are
//              billed as output, so they count as output, and tool-use prompt tokens as input.
//
// The body is upstream data, not the sandbox's, but an odd or broken upstream must not
// break the gateway: nothing here throws on bad input, counts are clamped to non-negative
// safe integers, and memory is bounded (a JSON body over MAX_JSON_BODY_BYTES, and an SSE
// event still unfinished past MAX_SSE_EVENT_CHARS, are given up on, and problem() says so;
// the events before and after such an event are still read). The meter reads
// the body as sent on the wire after any Content-Encoding is undone: a gzip body reads as
// garbage (null), so the gateway must ask upstream for an identity encoding or decode first.
import { createParser, type EventSourceMessage } from "eventsource-parser";

export type ModelProvider = "anthropic" | "openai" | "gemini";

export interface ModelUsage {
  /** The model the provider says answered, or null when the body did not name one. */
  model: string | null;
  /** Input tokens read fresh (not from the prompt cache). */
  inputTokens: number;
  outputTokens: number;
  /** Input tokens served from the provider's prompt cache. */
  cacheReadTokens: number;
  /** Input tokens written to the prompt cache (Anthropic; 0 for OpenAI and Gemini, which do not tell them). */
  cacheWriteTokens: number;
}

export interface UsageMeter {
  /** Feeds the next piece of the body, as it arrives. Ignored after finish(). */
  push(chunk: Uint8Array): void;
  /** The usage the body told, or null when it told none that could be read. Call once the body has ended. */
  finish(): ModelUsage | null;
  /** Why the meter gave up on the body (or a part of it), or null when it read all of it. */
  problem(): string | null;
}

/** A non-streaming body larger than this is not kept: its usage is not read. */
export const MAX_JSON_BODY_BYTES = 1024 * 1024;
/** An SSE event still unfinished past this many characters is skipped (so at most this plus one chunk is held). */
export const MAX_SSE_EVENT_CHARS = 1024 * 1024;
/** Model names longer than this are cut: the name is stored with every charge. */
export const MAX_MODEL_NAME_CHARS = 200;

export function totalTokens(usage: ModelUsage): number {
  return Math.min(Number.MAX_SAFE_INTEGER, usage.inputTokens + usage.outputTokens + usage.cacheReadTokens + usage.cacheWriteTokens);
}

export function createUsageMeter(provider: ModelProvider, contentType: string | undefined): UsageMeter {
  const isEventStream = /^\s*text\/event-stream\s*(;|$)/i.test(contentType ?? "");
  return isEventStream ? eventStreamMeter(provider) : jsonMeter(provider);
}

// ---- bodies -------------------------------------------------------------------------------

function jsonMeter(provider: ModelProvider): UsageMeter {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let problem: string | null = null;
  let result: { usage: ModelUsage | null } | null = null;
  return {
    push(chunk) {
      if (result || problem) return;
      size += chunk.byteLength;
      if (size > MAX_JSON_BODY_BYTES) {
        problem = `the response body is over ${MAX_JSON_BODY_BYTES} bytes; its usage was not read`;
        chunks.length = 0;
        return;
      }
      // Copied: the caller may reuse its buffer once push returns.
      chunks.push(chunk.slice());
    },
    finish() {
      if (!result) {
        let usage: ModelUsage | null = null;
        if (!problem) {
          const body = parseJson(new TextDecoder().decode(concat(chunks, size)));
          chunks.length = 0;
          usage = body === undefined ? null : BODY_READERS[provider](body);
          if (body === undefined) problem = "the response body is not JSON";
          else if (!usage) problem = "the response body tells no usage";
        }
        result = { usage };
      }
      return result.usage;
    },
    problem: () => problem,
  };
}

function eventStreamMeter(provider: ModelProvider): UsageMeter {
  const tally = STREAM_TALLIES[provider]();
  const decoder = new TextDecoder();
  let problem: string | null = null;
  let overflowed = false;
  let finished = false;
  const parser = createParser({
    maxBufferSize: MAX_SSE_EVENT_CHARS,
    onEvent(event) {
      const data = parseJson(event.data);
      if (data !== undefined) tally.event(event, data);
    },
    onError(error) {
      if (error.type === "max-buffer-size-exceeded") overflowed = true;
    },
  });
  const feed = (text: string) => {
    try {
      parser.feed(text);
    } catch {
      // Only a parser stopped by an overflow throws, and that is reset below.
    }
    if (overflowed) {
      // The rest of the oversized event is read as lines of no known field and dropped;
      // the events after it are read as usual, so a final usage event still counts.
      overflowed = false;
      problem = `an event over ${MAX_SSE_EVENT_CHARS} characters was skipped`;
      parser.reset();
    }
  };
  return {
    push(chunk) {
      if (!finished) feed(decoder.decode(chunk, { stream: true }));
    },
    finish() {
      if (!finished) {
        finished = true;
        // A body cut short of its last blank line still has its last event read.
        feed(`${decoder.decode()}\n\n`);
      }
      const usage = tally.usage();
      if (!usage && !problem) problem = "the event stream told no usage";
      return usage;
    },
    problem: () => problem,
  };
}

// ---- Anthropic ----------------------------------------------------------------------------

function anthropicBody(body: unknown): ModelUsage | null {
  const usage = field(body, "usage");
  if (!isObject(usage)) return null;
  const counts = emptyUsage(modelName(field(body, "model")));
  takeAnthropicCounts(counts, usage);
  return counts;
}

function anthropicStream(): StreamTally {
  let counts: ModelUsage | null = null;
  return {
    event(event, data) {
      const declared = field(data, "type");
      const type = typeof declared === "string" ? declared : event.event;
      if (type === "message_start") {
        const message = field(data, "message");
        counts ??= emptyUsage(null);
        counts.model = modelName(field(message, "model")) ?? counts.model;
        const usage = field(message, "usage");
        if (isObject(usage)) takeAnthropicCounts(counts, usage);
      } else if (type === "message_delta") {
        const usage = field(data, "usage");
        if (!isObject(usage)) return;
        counts ??= emptyUsage(null);
        // Running totals, not increments: each one replaces what came before.
        takeAnthropicCounts(counts, usage);
      }
    },
    usage: () => counts,
  };
}

/** Takes every count the usage object has, keeping the previous value of those it lacks. */
function takeAnthropicCounts(counts: ModelUsage, usage: Record<string, unknown>): void {
  counts.inputTokens = count(usage["input_tokens"]) ?? counts.inputTokens;
  counts.outputTokens = count(usage["output_tokens"]) ?? counts.outputTokens;
  counts.cacheReadTokens = count(usage["cache_read_input_tokens"]) ?? counts.cacheReadTokens;
  counts.cacheWriteTokens = count(usage["cache_creation_input_tokens"]) ?? counts.cacheWriteTokens;
}

// ---- OpenAI -------------------------------------------------------------------------------

function openAiBody(body: unknown): ModelUsage | null {
  const usage = field(body, "usage");
  if (!isObject(usage)) return null;
  return openAiCounts(modelName(field(body, "model")), usage);
}

function openAiStream(): StreamTally {
  let model: string | null = null;
  let counts: ModelUsage | null = null;
  return {
    event(_event, data) {
      // Chat Completions chunks carry `model` and (the last one) `usage` at the top level;
      // Responses API events carry both inside `response`.
      const response = field(data, "response");
      const holder = isObject(response) ? response : data;
      model = modelName(field(holder, "model")) ?? model;
      const usage = field(holder, "usage");
      if (isObject(usage)) counts = openAiCounts(model, usage);
    },
    usage: () => (counts ? { ...counts, model: counts.model ?? model } : null),
  };
}

function openAiCounts(model: string | null, usage: Record<string, unknown>): ModelUsage {
  const details = field(usage, "prompt_tokens_details") ?? field(usage, "input_tokens_details");
  const input = count(usage["prompt_tokens"]) ?? count(usage["input_tokens"]) ?? 0;
  const cached = Math.min(input, count(field(details, "cached_tokens")) ?? 0);
  return {
    model,
    inputTokens: input - cached,
    outputTokens: count(usage["completion_tokens"]) ?? count(usage["output_tokens"]) ?? 0,
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}

// ---- Gemini -------------------------------------------------------------------------------

function geminiBody(body: unknown): ModelUsage | null {
  // A stream read without `alt=sse` is an array of chunks; each holds the running totals.
  const chunks = Array.isArray(body) ? body : [body];
  let counts: ModelUsage | null = null;
  let model: string | null = null;
  for (const chunk of chunks) {
    model = modelName(field(chunk, "modelVersion")) ?? model;
    const usage = field(chunk, "usageMetadata");
    if (isObject(usage)) counts = geminiCounts(usage);
  }
  return counts ? { ...counts, model } : null;
}

function geminiStream(): StreamTally {
  let model: string | null = null;
  let counts: ModelUsage | null = null;
  return {
    event(_event, data) {
      model = modelName(field(data, "modelVersion")) ?? model;
      const usage = field(data, "usageMetadata");
      if (isObject(usage)) counts = geminiCounts(usage);
    },
    usage: () => (counts ? { ...counts, model } : null),
  };
}

function geminiCounts(usage: Record<string, unknown>): ModelUsage {
  const prompt = Math.min(Number.MAX_SAFE_INTEGER, (count(usage["promptTokenCount"]) ?? 0) + (count(usage["toolUsePromptTokenCount"]) ?? 0));
  const cached = Math.min(prompt, count(usage["cachedContentTokenCount"]) ?? 0);
  return {
    model: null,
    inputTokens: prompt - cached,
    outputTokens: Math.min(Number.MAX_SAFE_INTEGER, (count(usage["candidatesTokenCount"]) ?? 0) + (count(usage["thoughtsTokenCount"]) ?? 0)),
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
  };
}

const BODY_READERS: Record<ModelProvider, (body: unknown) => ModelUsage | null> = {
  anthropic: anthropicBody,
  openai: openAiBody,
  gemini: geminiBody,
};

const STREAM_TALLIES: Record<ModelProvider, () => StreamTally> = {
  anthropic: anthropicStream,
  openai: openAiStream,
  gemini: geminiStream,
};

// ---- reading untrusted JSON ---------------------------------------------------------------

interface StreamTally {
  event(event: EventSourceMessage, data: unknown): void;
  usage(): ModelUsage | null;
}

function emptyUsage(model: string | null): ModelUsage {
  return { model, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
}

/** A token count as a non-negative safe integer, or undefined when the value is not a number. */
function count(value: unknown): number | undefined {
  if (typeof value !== "number" || Number.isNaN(value)) return undefined;
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.floor(value)));
}

function modelName(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value.slice(0, MAX_MODEL_NAME_CHARS) : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function field(value: unknown, name: string): unknown {
  return isObject(value) ? value[name] : undefined;
}

/** The parsed value, or undefined when the text is not JSON (`[DONE]`, a cut-off event, garbage). */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}
