// The model gateway's Gemini route end to end, with a real sandbox and a stand-in Gemini API
// on 127.0.0.1: a client in the sandbox calls 127.0.0.1:3129/gemini with the placeholder of
// the project's GEMINI_API_KEY in x-goog-api-key (as Gemini CLI and the genai SDKs send it),
// the provider receives the real key, the tokens it reports are counted on the host (JSON
// and `alt=sse` streams), and a spent budget is refused in Google's error shape.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type GeminiStub, startGeminiStub } from "../helpers/gemini-stub.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

const KEY = "AIzaSy-the-real-gemini-key-for-the-gateway-test";

/** A generateContent call from inside the sandbox, with Node's fetch, as the genai SDK makes it. */
const CALL = `
const stream = process.argv[2] === "stream";
const method = stream ? "streamGenerateContent?alt=sse" : "generateContent";
const res = await fetch("http://127.0.0.1:3129/gemini/v1beta/models/gemini-test:" + method, {
  method: "POST",
  headers: { "content-type": "application/json", "x-goog-api-key": process.env.GEMINI_API_KEY },
  body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
});
process.stdout.write(res.status + "\\n" + (await res.text()));
`;

describe("model gateway (sandbox → stand-in Gemini API)", () => {
  let s: TestServer;
  let stub: GeminiStub;
  let box: any;

  before(async () => {
    stub = await startGeminiStub();
    s = await startTestServer("embedded", { geminiUpstream: stub.url });
    await api(s, "POST", "/api/v1/projects", { body: { name: "gem", egress: { level: "none" } } });
    const set = await api(s, "POST", "/api/v1/projects/gem/secrets", { body: { name: "GEMINI_API_KEY", value: KEY, kind: "credential" } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.inject, [{ host: "generativelanguage.googleapis.com", header: "x-goog-api-key", format: "raw" }]);
    box = await runningSandbox(s, "gem");
    await exec(s, box.id, "cat > /workspace/call.mjs", { stdin: CALL });
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a call with the placeholder reaches Google's API with the real key; tokens are counted (JSON)", async () => {
    const res = await exec(s, box.id, "node /workspace/call.mjs json");
    assert.match(res.stdout, /^200\n/, res.stdout + res.stderr);
    const request = stub.requests.at(-1)!;
    assert.equal(request.url, "/v1beta/models/gemini-test:generateContent");
    assert.equal(request.headers["x-goog-api-key"], KEY);
    assert.ok(!res.stdout.includes(KEY));
    // The stub answers side questions with 50 input and 10 output tokens.
    const usage = await waitForUsage(s, "gem", 60);
    assert.deepEqual(
      usage.totals.map((t: any) => [t.provider, t.model, t.calls, t.inputTokens, t.outputTokens, t.cacheReadTokens, t.cacheWriteTokens]),
      [["gemini", "gemini-test", 1, 50, 10, 0, 0]],
    );
  });

  test("a streamed answer arrives as SSE and its tokens are counted, cached ones apart", async () => {
    stub.queue({ parts: [{ text: "Hello from the stand-in Gemini." }], usage: { input: 300, output: 40, cached: 200 } });
    const res = await exec(s, box.id, "node /workspace/call.mjs stream");
    assert.match(res.stdout, /^200\n/, res.stdout + res.stderr);
    assert.match(res.stdout, /^data: .*"finishReason":"STOP"/m);
    assert.equal(stub.requests.at(-1)!.url, "/v1beta/models/gemini-test:streamGenerateContent?alt=sse");
    const usage = await waitForUsage(s, "gem", 60 + 540);
    const totals = usage.totals.map((t: any) => [t.calls, t.inputTokens, t.outputTokens, t.cacheReadTokens]);
    assert.deepEqual(totals, [[2, 350, 50, 200]]);
  });

  test("a spent budget is refused in Google's error shape, before the call reaches the provider", async () => {
    const patched = await api(s, "PATCH", "/api/v1/projects/gem", { body: { tokenBudget: 100 } });
    assert.equal(patched.status, 200);
    const before = stub.requests.length;
    const res = await exec(s, box.id, "node /workspace/call.mjs json");
    const [status, body] = [res.stdout.split("\n")[0], JSON.parse(res.stdout.slice(res.stdout.indexOf("\n") + 1))];
    assert.equal(status, "402");
    assert.equal(body.error.code, 402);
    assert.equal(body.error.status, "RESOURCE_EXHAUSTED");
    assert.match(body.error.message, /project gem has used its monthly model budget \(600 of 100 tokens\)/);
    assert.equal(stub.requests.length, before);
  });
});

async function waitForUsage(s: TestServer, project: string, total: number): Promise<any> {
  for (;;) {
    const res = await api(s, "GET", `/api/v1/projects/${project}/usage`);
    assert.equal(res.status, 200);
    if (res.body.totalTokens >= total) return res.body;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
