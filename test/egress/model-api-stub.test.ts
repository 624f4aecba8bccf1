// The model API stand-in speaks the providers' wire formats closely enough that the usage
// meter reads from it exactly the counts it was told to report, streamed or not.
import assert from "node:assert/strict";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { createUsageMeter, type ModelProvider, type ModelUsage } from "../../src/domain/model-usage.ts";
import { type ModelApiStub, STUB_REPLY_PIECES, startModelApiStub } from "../helpers/model-api-stub.ts";
import { makeTestCa } from "../helpers/test-ca.ts";

/** Sends a request to the stub with Node's fetch and meters the answer as the gateway would. */
async function meterCall(stub: ModelApiStub, provider: ModelProvider, path: string, body: object, headers: Record<string, string> = {}) {
  const response = await fetch(`${stub.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const meter = createUsageMeter(provider, response.headers.get("content-type") ?? undefined);
  const decoder = new TextDecoder();
  let text = "";
  // (Node's web streams are async iterable; the DOM typings some packages pull in do not say so.)
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    meter.push(chunk);
    text += decoder.decode(chunk, { stream: true });
  }
  return { status: response.status, contentType: response.headers.get("content-type"), text, usage: meter.finish() };
}

const ANTHROPIC = { "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01" };
const OPENAI = { authorization: "Bearer sk-openai-test" };

describe("model API stub", () => {
  let stub: ModelApiStub;
  before(async () => {
    stub = await startModelApiStub();
  });
  after(() => stub.close());

  test("Anthropic JSON answer: the meter reads the usage that was set", async () => {
    stub.setUsage({ input: 120, output: 45, cacheRead: 3000, cacheWrite: 200 });
    const result = await meterCall(stub, "anthropic", "/v1/messages", { model: "claude-sonnet-4-5", max_tokens: 100, messages: [] }, ANTHROPIC);
    assert.equal(result.status, 200);
    assert.match(result.contentType ?? "", /^application\/json/);
    assert.equal(JSON.parse(result.text).content[0].text, STUB_REPLY_PIECES.join(""));
    assert.deepEqual<ModelUsage | null>(result.usage, {
      model: "claude-sonnet-4-5",
      inputTokens: 120,
      outputTokens: 45,
      cacheReadTokens: 3000,
      cacheWriteTokens: 200,
    });
  });

  test("Anthropic stream: the events arrive in order and the meter reads the usage that was set", async () => {
    stub.setUsage({ input: 7, output: 321, cacheRead: 11, cacheWrite: 13 });
    const result = await meterCall(stub, "anthropic", "/v1/messages", { model: "claude-haiku-4-5", stream: true, messages: [] }, ANTHROPIC);
    assert.match(result.contentType ?? "", /^text\/event-stream/);
    const events = [...result.text.matchAll(/^event: (.+)$/gm)].map((match) => match[1]);
    assert.deepEqual(events, [
      "message_start",
      "content_block_start",
      "ping",
      ...STUB_REPLY_PIECES.map(() => "content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    assert.deepEqual<ModelUsage | null>(result.usage, {
      model: "claude-haiku-4-5",
      inputTokens: 7,
      outputTokens: 321,
      cacheReadTokens: 11,
      cacheWriteTokens: 13,
    });
  });

  test("OpenAI JSON answer: cached tokens are counted apart from fresh input", async () => {
    stub.setUsage({ input: 50, output: 20, cacheRead: 1024 });
    const result = await meterCall(stub, "openai", "/v1/chat/completions", { model: "gpt-4o", messages: [] }, OPENAI);
    assert.equal(JSON.parse(result.text).usage.prompt_tokens, 1074, "OpenAI reports cached tokens inside prompt_tokens");
    assert.deepEqual<ModelUsage | null>(result.usage, { model: "gpt-4o", inputTokens: 50, outputTokens: 20, cacheReadTokens: 1024, cacheWriteTokens: 0 });
  });

  test("OpenAI stream with include_usage: the last chunk's usage is read, then [DONE]", async () => {
    stub.setUsage({ input: 33, output: 44, cacheRead: 5 });
    const body = { model: "gpt-4o-mini", stream: true, stream_options: { include_usage: true }, messages: [] };
    const result = await meterCall(stub, "openai", "/v1/chat/completions", body, OPENAI);
    assert.match(result.contentType ?? "", /^text\/event-stream/);
    assert.match(result.text, /data: \[DONE\]\n\n$/);
    assert.deepEqual<ModelUsage | null>(result.usage, { model: "gpt-4o-mini", inputTokens: 33, outputTokens: 44, cacheReadTokens: 5, cacheWriteTokens: 0 });
  });

  test("OpenAI stream without include_usage carries no usage, like the real API", async () => {
    const result = await meterCall(stub, "openai", "/v1/chat/completions", { model: "gpt-4o-mini", stream: true, messages: [] }, OPENAI);
    assert.match(result.text, /data: \[DONE\]\n\n$/);
    assert.equal(result.usage, null);
  });

  test("a request without a key gets the provider's 401, and every request is recorded with its headers and body", async () => {
    const before = stub.requests.length;
    const anthropic = await fetch(`${stub.url}/v1/messages`, { method: "POST", body: JSON.stringify({ model: "m", messages: [] }) });
    assert.equal(anthropic.status, 401);
    assert.equal(((await anthropic.json()) as any).error.type, "authentication_error");
    const openai = await fetch(`${stub.url}/v1/chat/completions`, { method: "POST", body: "{}" });
    assert.equal(openai.status, 401);
    assert.equal(((await openai.json()) as any).error.code, "invalid_api_key");
    await meterCall(stub, "anthropic", "/v1/messages", { model: "m", messages: [{ role: "user", content: "hi" }] }, ANTHROPIC);

    const recorded = stub.requests.slice(before);
    assert.deepEqual(
      recorded.map(({ method, path, body }) => ({ method, path, body })),
      [
        { method: "POST", path: "/v1/messages", body: { model: "m", messages: [] } },
        { method: "POST", path: "/v1/chat/completions", body: {} },
        { method: "POST", path: "/v1/messages", body: { model: "m", messages: [{ role: "user", content: "hi" }] } },
      ],
    );
    assert.equal(recorded[0]!.headers["x-api-key"], undefined);
    assert.equal(recorded[2]!.headers["x-api-key"], "sk-ant-test");
    assert.equal(recorded[2]!.headers["anthropic-version"], "2023-06-01");
  });
});

test("the stub speaks HTTPS when given a key and certificate", async () => {
  const ca = makeTestCa();
  const stub = await startModelApiStub({ tls: ca.issue(["127.0.0.1"]) });
  try {
    assert.match(stub.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    stub.setUsage({ input: 1, output: 2 });
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        `${stub.url}/v1/messages`,
        { method: "POST", ca: ca.caPem, headers: { "x-api-key": "k", "content-type": "application/json" } },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (piece: string) => {
            body += piece;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ model: "claude-x", messages: [] }));
    });
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(answer.body).usage, { input_tokens: 1, output_tokens: 2, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
  } finally {
    await stub.close();
  }
});
