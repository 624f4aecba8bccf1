// The real Codex CLI (installed from npm by Outpost) runs turns inside a real sandbox against
// a stand-in OpenAI Responses API reached through the model gateway, with the key injected
// on the host: the command it runs leaves its file in the workspace, the events come
// normalized, and a follow-up resumes the same Codex thread.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentProject } from "../helpers/agent-project.ts";
import { type OpenAiResponsesStub, startOpenAiResponsesStub } from "../helpers/openai-responses-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec } from "../helpers/sandboxes.ts";
import { api, type TestServer } from "../helpers/server.ts";

const KEY = "sk-proj-the-real-openai-key-stays-outside";

describe("Codex CLI in a sandbox", () => {
  let s: TestServer;
  let stub: OpenAiResponsesStub;
  let box: any;
  let conversation: any;

  before(async () => {
    stub = await startOpenAiResponsesStub();
    ({ s, box } = await agentProject({ name: "codex", settings: { openaiUpstream: stub.url }, credential: { name: "OPENAI_API_KEY", value: KEY } }));
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a turn that runs a command: the file, the events, the answer", async () => {
    stub.queue({ items: [{ reasoning: "Run it." }, { shell: "echo made-by-codex > /workspace/codex.txt" }] }, { items: [{ text: "Wrote codex.txt." }] });
    conversation = (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "codex", model: "gpt-5.5" } })).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "Write codex.txt" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? e.data.message ?? ""])));
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
    );
    const call = events.find((e) => e.event === "tool_call")!;
    assert.match(JSON.stringify(call.data.input), /echo made-by-codex/);
    assert.ok(events.some((e) => e.event === "tool_result"));
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "Wrote codex.txt.");
    assert.equal((await exec(s, box.id, "cat /workspace/codex.txt")).stdout, "made-by-codex\n");
    for (const request of stub.requests) assert.equal(request.headers.authorization, `Bearer ${KEY}`);
    const inside = await exec(s, box.id, "env; grep -rs 'the-real-openai-key' ~ /workspace; echo end");
    assert.ok(!inside.stdout.includes(KEY));
  });

  test("a follow-up resumes the Codex thread", async () => {
    stub.queue({ items: [{ text: "You asked for codex.txt." }] });
    const before = stub.requests.length;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "What did I ask?" } });
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? ""])));
    const transcript = JSON.stringify(stub.requests[before]!.body.input);
    assert.ok(transcript.includes("Write codex.txt"), "the earlier turn is in the resumed thread");
    const detail = await api(s, "GET", `/api/v1/conversations/${conversation.id}`);
    assert.ok(detail.body.sessionId);
    // Codex reports the thread's tokens so far; each run shows its own (one model call here).
    const [first, second] = detail.body.runs;
    assert.equal(second.usage.outputTokens, 30, JSON.stringify([first.usage, second.usage]));
    assert.equal(first.usage.outputTokens, 60);
  });
});
