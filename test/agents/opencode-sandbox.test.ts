// The real OpenCode CLI (installed from npm by Outpost) runs turns inside a real sandbox
// against a stand-in OpenAI Responses API reached through the model gateway, with the key
// injected on the host: the command it runs and the patch it applies leave their files in
// the workspace, the events come normalized (the patch with its diff), and a follow-up
// continues the same OpenCode session.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentProject } from "../helpers/agent-project.ts";
import { type OpenAiResponsesStub, startOpenAiResponsesStub } from "../helpers/openai-responses-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec } from "../helpers/sandboxes.ts";
import { api, type TestServer } from "../helpers/server.ts";

const KEY = "sk-proj-the-real-openai-key-stays-outside";

describe("OpenCode in a sandbox", () => {
  let s: TestServer;
  let stub: OpenAiResponsesStub;
  let box: any;
  let conversation: any;

  before(async () => {
    stub = await startOpenAiResponsesStub();
    ({ s, box } = await agentProject({ name: "opencode", settings: { openaiUpstream: stub.url }, credential: { name: "OPENAI_API_KEY", value: KEY } }));
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a turn that runs a command and applies a patch: the files, the events, the answer", async () => {
    stub.queue(
      { items: [{ tool: "bash", arguments: { command: "echo made-by-opencode > /workspace/opencode.txt", description: "write a file" } }] },
      { items: [{ tool: "apply_patch", arguments: { patchText: "*** Begin Patch\n*** Add File: patched.txt\n+patched by opencode\n*** End Patch" } }] },
      { items: [{ text: "Wrote both files." }] },
    );
    conversation = (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "opencode", model: "gpt-5.5" } })).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "Write the files" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? e.data.message ?? ""])));
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
    );
    const calls = events.filter((e) => e.event === "tool_call");
    assert.deepEqual(
      calls.map((c) => c.data.name),
      ["bash", "apply_patch"],
    );
    assert.match(JSON.stringify(calls[0]!.data.input), /echo made-by-opencode/);
    assert.equal(events.filter((e) => e.event === "tool_result").length, 2);
    const change = events.find((e) => e.event === "file_change")!;
    assert.equal(change.data.path, "/workspace/patched.txt");
    assert.match(change.data.diff, /^\+patched by opencode$/m);
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "Wrote both files.");
    const usage = events.filter((e) => e.event === "usage").at(-1)!;
    assert.equal(usage.data.inputTokens, 3 * 120);
    assert.equal((await exec(s, box.id, "cat /workspace/opencode.txt /workspace/patched.txt")).stdout, "made-by-opencode\npatched by opencode\n");
    for (const request of stub.requests) assert.equal(request.headers.authorization, `Bearer ${KEY}`);
    const inside = await exec(s, box.id, "env; grep -rs 'the-real-openai-key' ~ /workspace; echo end");
    assert.ok(!inside.stdout.includes(KEY));
  });

  test("a follow-up continues the OpenCode session", async () => {
    stub.queue({ items: [{ text: "You asked for two files." }] });
    const before = stub.requests.length;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "What did I ask?" } });
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? ""])));
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "You asked for two files.");
    // Only this turn's model call counts: the session's earlier turn is not reported again.
    assert.equal(events.filter((e) => e.event === "usage").at(-1)!.data.inputTokens, 120);
    const transcript = JSON.stringify(stub.requests[before]!.body.input);
    assert.ok(transcript.includes("Write the files"), "the earlier turn is in the continued session");
    assert.ok(transcript.includes("What did I ask?"));
    const detail = await api(s, "GET", `/api/v1/conversations/${conversation.id}`);
    assert.match(detail.body.sessionId, /^ses_/);
  });
});
