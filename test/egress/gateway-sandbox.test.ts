// The model gateway end to end, with a real sandbox (bwrap) and a stand-in Messages API on
// 127.0.0.1 (real HTTP and SSE): a client in the sandbox calls ANTHROPIC_BASE_URL with the
// placeholder it was given, the provider receives the project's real key, the tokens the
// provider reports are counted on the host (JSON and streamed answers), /usage shows them,
// and a spent monthly budget refuses the next call with the documented message.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type ModelApiStub, startModelApiStub } from "../helpers/model-api-stub.ts";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";

const KEY = "sk-ant-api03-real-key-for-the-gateway-test";

/** A Messages API call from inside the sandbox, with Node's fetch, as an SDK would make it. */
const CALL = `
const stream = process.argv[2] === "stream";
const res = await fetch(process.env.ANTHROPIC_BASE_URL + "/v1/messages", {
  method: "POST",
  headers: { "content-type": "application/json", "x-api-key": process.env.ANTHROPIC_API_KEY, "anthropic-version": "2023-06-01" },
  body: JSON.stringify({ model: "claude-test", max_tokens: 64, stream, messages: [{ role: "user", content: "hi" }] }),
});
process.stdout.write(res.status + "\\n" + (await res.text()));
`;

describe("model gateway (sandbox → stand-in Messages API)", () => {
  let s: TestServer;
  let stub: ModelApiStub;
  let box: any;

  before(async () => {
    stub = await startModelApiStub();
    s = await startTestServer("embedded", { anthropicUpstream: stub.url });
    await api(s, "POST", "/api/v1/projects", { body: { name: "gw", egress: { level: "none" } } });
    const set = await api(s, "POST", "/api/v1/projects/gw/secrets", { body: { name: "ANTHROPIC_API_KEY", value: KEY, kind: "credential" } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.inject, [{ host: "api.anthropic.com", header: "x-api-key", format: "raw" }]);
    box = await runningSandbox(s, "gw");
    await exec(s, box.id, "cat > /workspace/call.mjs", { stdin: CALL });
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a call with the placeholder reaches the provider with the real key; tokens are counted (JSON)", async () => {
    stub.setUsage({ input: 120, output: 30, cacheRead: 7, cacheWrite: 3 });
    const res = await exec(s, box.id, "node /workspace/call.mjs json");
    assert.match(res.stdout, /^200\n/, res.stdout + res.stderr);
    const request = stub.requests.at(-1);
    assert.equal(request?.headers["x-api-key"], KEY);
    assert.ok(!res.stdout.includes(KEY));
    const usage = await waitForUsage(s, "gw", 160);
    assert.deepEqual(
      usage.totals.map((t: any) => [t.provider, t.model, t.calls, t.inputTokens, t.outputTokens, t.cacheReadTokens, t.cacheWriteTokens]),
      [["anthropic", "claude-test", 1, 120, 30, 7, 3]],
    );
  });

  test("a streamed answer arrives as SSE and its tokens are counted", async () => {
    stub.setUsage({ input: 50, output: 25 });
    const res = await exec(s, box.id, "node /workspace/call.mjs stream");
    assert.match(res.stdout, /^200\n/);
    assert.match(res.stdout, /event: message_start/);
    assert.match(res.stdout, /event: message_stop/);
    const usage = await waitForUsage(s, "gw", 160 + 75);
    assert.equal(usage.totalTokens, 235);
  });

  test("a spent budget refuses the next call with a message that says what to do", async () => {
    const patched = await api(s, "PATCH", "/api/v1/projects/gw", { body: { tokenBudget: 200 } });
    assert.equal(patched.status, 200);
    const before = stub.requests.length;
    const res = await exec(s, box.id, "node /workspace/call.mjs json");
    const [status, body] = [res.stdout.split("\n")[0], JSON.parse(res.stdout.slice(res.stdout.indexOf("\n") + 1))];
    assert.equal(status, "402");
    assert.equal(body.type, "error");
    assert.equal(body.error.type, "budget_exceeded");
    assert.match(body.error.message, /project gw has used its monthly model budget \(235 of 200 tokens\)/);
    assert.match(body.error.message, /outpost project update gw --token-budget/);
    assert.equal(stub.requests.length, before, "the refused call never reached the provider");
    const usage = (await api(s, "GET", "/api/v1/projects/gw/usage")).body;
    assert.deepEqual([usage.tokenBudget, usage.remainingTokens], [200, 0]);
  });

  test("the egress level does not close the gateway, and the proxy still refuses the provider's host directly", async () => {
    const direct = await exec(s, box.id, "curl -sS -m 20 -o /dev/null -w '%{http_connect}' https://api.anthropic.com/v1/messages");
    assert.equal(direct.stdout, "403");
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
