import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createUsageMeter, MAX_JSON_BODY_BYTES, MAX_SSE_EVENT_CHARS, type ModelProvider, type ModelUsage, totalTokens } from "../../src/domain/model-usage.ts";

const encoder = new TextEncoder();

/** Runs a body through a meter, cut into pieces of `pieceBytes` (the whole body by default). */
function meter(provider: ModelProvider, contentType: string | undefined, body: string | Uint8Array, pieceBytes?: number) {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const usageMeter = createUsageMeter(provider, contentType);
  const step = pieceBytes ?? Math.max(1, bytes.byteLength);
  for (let at = 0; at < bytes.byteLength; at += step) usageMeter.push(bytes.slice(at, at + step));
  return { usage: usageMeter.finish(), problem: usageMeter.problem() };
}

const sse = (events: { event?: string; data: unknown }[]) =>
  events.map(({ event, data }) => `${event ? `event: ${event}\n` : ""}data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`).join("");

const usage = (model: string | null, inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0): ModelUsage => ({
  model,
  inputTokens,
  outputTokens,
  cacheReadTokens,
  cacheWriteTokens,
});

const anthropicStream = sse([
  {
    event: "message_start",
    data: {
      type: "message_start",
      message: {
        id: "msg_1",
        model: "claude-sonnet-4-5",
        usage: { input_tokens: 25, cache_creation_input_tokens: 100, cache_read_input_tokens: 2000, output_tokens: 1 },
      },
    },
  },
  { event: "content_block_start", data: { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } } },
  { event: "content_block_delta", data: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Grüße 🙂" } } },
  { event: "message_delta", data: { type: "message_delta", delta: { stop_reason: null }, usage: { output_tokens: 40 } } },
  { event: "message_delta", data: { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 87 } } },
  { event: "message_stop", data: { type: "message_stop" } },
]);

describe("Anthropic usage", () => {
  test("a JSON answer tells its model and all four counts", () => {
    const body = JSON.stringify({
      id: "msg_1",
      type: "message",
      model: "claude-opus-4-1",
      content: [{ type: "text", text: "hi" }],
      usage: { input_tokens: 12, output_tokens: 34, cache_creation_input_tokens: 56, cache_read_input_tokens: 78 },
    });
    assert.deepEqual(meter("anthropic", "application/json", body), { usage: usage("claude-opus-4-1", 12, 34, 78, 56), problem: null });
  });

  test("a stream's output count is the last running total, its input and cache counts come from message_start", () => {
    const expected = usage("claude-sonnet-4-5", 25, 87, 2000, 100);
    assert.deepEqual(meter("anthropic", "text/event-stream; charset=utf-8", anthropicStream).usage, expected);
  });

  test("the same stream fed one byte at a time (events and UTF-8 characters cut anywhere) counts the same", () => {
    assert.deepEqual(meter("anthropic", "text/event-stream", anthropicStream, 1).usage, usage("claude-sonnet-4-5", 25, 87, 2000, 100));
  });

  test("input and cache counts a message_delta carries replace those of message_start", () => {
    const body = sse([
      { data: { type: "message_start", message: { model: "m", usage: { input_tokens: 5, output_tokens: 1 } } } },
      { data: { type: "message_delta", usage: { input_tokens: 9, cache_read_input_tokens: 3, cache_creation_input_tokens: 4, output_tokens: 20 } } },
    ]);
    assert.deepEqual(meter("anthropic", "text/event-stream", body).usage, usage("m", 9, 20, 3, 4));
  });

  test("a stream cut off after message_start tells what it had; the last event counts without its blank line", () => {
    const cut = sse([{ data: { type: "message_start", message: { model: "m", usage: { input_tokens: 7, output_tokens: 1 } } } }]);
    assert.deepEqual(meter("anthropic", "text/event-stream", cut).usage, usage("m", 7, 1));
    const unterminated = `${cut}data: {"type":"message_delta","usage":{"output_tokens":30}}`;
    assert.deepEqual(meter("anthropic", "text/event-stream", unterminated).usage, usage("m", 7, 30));
  });

  test("an error answer tells no usage", () => {
    const error = JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } });
    assert.deepEqual(meter("anthropic", "application/json", error), { usage: null, problem: "the response body tells no usage" });
    const streamed = sse([{ event: "error", data: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } } }]);
    assert.deepEqual(meter("anthropic", "text/event-stream", streamed), { usage: null, problem: "the event stream told no usage" });
  });
});

describe("OpenAI usage", () => {
  test("a Chat Completions answer counts cached prompt tokens apart from fresh input", () => {
    const body = JSON.stringify({
      object: "chat.completion",
      model: "gpt-4o-2024-08-06",
      usage: { prompt_tokens: 1500, completion_tokens: 42, total_tokens: 1542, prompt_tokens_details: { cached_tokens: 1024 } },
    });
    const result = meter("openai", "application/json", body).usage;
    assert.deepEqual(result, usage("gpt-4o-2024-08-06", 476, 42, 1024, 0));
    assert.equal(totalTokens(result!), 1542, "the four counts sum to the provider's total");
  });

  test("a Chat Completions stream counts its last chunk's usage and stops at [DONE]", () => {
    const chunk = (extra: object) => ({ object: "chat.completion.chunk", model: "gpt-4o-mini", choices: [], usage: null, ...extra });
    const body = sse([
      { data: chunk({ choices: [{ index: 0, delta: { content: "Hi" } }] }) },
      { data: chunk({ usage: { prompt_tokens: 30, completion_tokens: 9, prompt_tokens_details: { cached_tokens: 0 } } }) },
      { data: "[DONE]" },
    ]);
    assert.deepEqual(meter("openai", "text/event-stream", body, 7).usage, usage("gpt-4o-mini", 30, 9));
  });

  test("a Chat Completions stream without include_usage tells no usage", () => {
    const body = sse([{ data: { object: "chat.completion.chunk", model: "gpt-4o-mini", choices: [] } }, { data: "[DONE]" }]);
    assert.equal(meter("openai", "text/event-stream", body).usage, null);
  });

  test("a Responses API answer and its response.completed event are read the same way", () => {
    const response = { object: "response", model: "o3", usage: { input_tokens: 300, input_tokens_details: { cached_tokens: 100 }, output_tokens: 50 } };
    assert.deepEqual(meter("openai", "application/json", JSON.stringify(response)).usage, usage("o3", 200, 50, 100));
    const body = sse([
      { event: "response.created", data: { type: "response.created", response: { ...response, usage: null } } },
      { event: "response.output_text.delta", data: { type: "response.output_text.delta", delta: "Hi" } },
      { event: "response.completed", data: { type: "response.completed", response } },
    ]);
    assert.deepEqual(meter("openai", "text/event-stream", body, 3).usage, usage("o3", 200, 50, 100));
  });
});

describe("odd bodies", () => {
  test("garbage never throws: not JSON, not SSE, binary, empty", () => {
    assert.deepEqual(meter("anthropic", "application/json", "<html>502</html>"), { usage: null, problem: "the response body is not JSON" });
    assert.equal(meter("openai", undefined, new Uint8Array([0xff, 0xfe, 0x00, 0x81])).usage, null);
    assert.equal(meter("anthropic", "text/event-stream", "data: {not json\n\nevent: x\n\n:\n\n").usage, null);
    assert.equal(meter("openai", "application/json", "").usage, null);
    assert.equal(meter("openai", "application/json", "null").usage, null);
  });

  test("counts are clamped to non-negative safe integers; values of the wrong type count as absent", () => {
    const body = JSON.stringify({
      model: 42,
      usage: { input_tokens: -5, output_tokens: 1e300, cache_read_input_tokens: 2.9, cache_creation_input_tokens: "100" },
    });
    assert.deepEqual(meter("anthropic", "application/json", body).usage, usage(null, 0, Number.MAX_SAFE_INTEGER, 2, 0));
    const cachedAboveInput = JSON.stringify({ usage: { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 99 } } });
    assert.deepEqual(meter("openai", "application/json", cachedAboveInput).usage, usage(null, 0, 1, 10));
    const huge = usage(null, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, 0, 0);
    assert.equal(totalTokens(huge), Number.MAX_SAFE_INTEGER);
  });

  test("a JSON body over the limit is not kept, and the meter says why", () => {
    const padding = "x".repeat(MAX_JSON_BODY_BYTES);
    const body = JSON.stringify({ model: "m", padding, usage: { input_tokens: 1, output_tokens: 1 } });
    assert.deepEqual(meter("anthropic", "application/json", body, 64 * 1024), {
      usage: null,
      problem: `the response body is over ${MAX_JSON_BODY_BYTES} bytes; its usage was not read`,
    });
  });

  test("an oversized SSE event is skipped and the events after it still count", () => {
    const huge = `data: {"type":"content_block_delta","delta":{"text":"${"y".repeat(2 * MAX_SSE_EVENT_CHARS)}"}}\n\n`;
    const body =
      sse([{ data: { type: "message_start", message: { model: "m", usage: { input_tokens: 3, output_tokens: 1 } } } }]) +
      huge +
      sse([{ data: { type: "message_delta", usage: { output_tokens: 500 } } }]);
    const result = meter("anthropic", "text/event-stream", body, 16 * 1024);
    assert.deepEqual(result.usage, usage("m", 3, 500));
    assert.equal(result.problem, `an event over ${MAX_SSE_EVENT_CHARS} characters was skipped`);
  });

  test("a long model name is cut", () => {
    const body = JSON.stringify({ model: "m".repeat(5000), usage: { input_tokens: 1, output_tokens: 1 } });
    assert.equal(meter("anthropic", "application/json", body).usage?.model?.length, 200);
  });
});

/** A Gemini answer (one chunk of a stream, or the whole JSON answer). */
const geminiChunk = (text: string, usageMetadata?: Record<string, number>, modelVersion = "gemini-2.5-pro") => ({
  candidates: [{ content: { role: "model", parts: [{ text }] }, index: 0 }],
  ...(usageMetadata ? { usageMetadata } : {}),
  modelVersion,
});

describe("Gemini usage", () => {
  test("a JSON answer: cached tokens come out of the prompt count, thinking counts as output", () => {
    const body = JSON.stringify(
      geminiChunk("hi", { promptTokenCount: 1200, cachedContentTokenCount: 1000, candidatesTokenCount: 30, thoughtsTokenCount: 70, totalTokenCount: 1300 }),
    );
    assert.deepEqual(meter("gemini", "application/json; charset=UTF-8", body), { usage: usage("gemini-2.5-pro", 200, 100, 1000), problem: null });
  });

  test("an alt=sse stream: every chunk has running totals, the last one wins", () => {
    const body = sse([
      { data: geminiChunk("Hel", { promptTokenCount: 500, candidatesTokenCount: 2 }) },
      { data: geminiChunk("lo ", { promptTokenCount: 500, candidatesTokenCount: 5 }) },
      { data: geminiChunk("world", { promptTokenCount: 500, cachedContentTokenCount: 100, candidatesTokenCount: 9, toolUsePromptTokenCount: 20 }) },
    ]).replaceAll("\n", "\r\n");
    assert.deepEqual(meter("gemini", "text/event-stream", body, 7), { usage: usage("gemini-2.5-pro", 420, 9, 100), problem: null });
  });

  test("a stream read without alt=sse is one JSON array of chunks", () => {
    const body = JSON.stringify([
      geminiChunk("a", { promptTokenCount: 40, candidatesTokenCount: 1 }),
      geminiChunk("b", { promptTokenCount: 40, candidatesTokenCount: 6 }),
    ]);
    assert.deepEqual(meter("gemini", "application/json", body).usage, usage("gemini-2.5-pro", 40, 6));
  });

  test("an answer without usageMetadata tells none, and odd counts are clamped", () => {
    assert.deepEqual(meter("gemini", "application/json", JSON.stringify(geminiChunk("x"))), { usage: null, problem: "the response body tells no usage" });
    const odd = JSON.stringify(geminiChunk("x", { promptTokenCount: -5, cachedContentTokenCount: 50, candidatesTokenCount: 2.7 }));
    assert.deepEqual(meter("gemini", "application/json", odd).usage, usage("gemini-2.5-pro", 0, 2));
  });
});
