// The real Gemini CLI (installed from npm by Outpost) runs turns inside a real sandbox against
// a stand-in Gemini API reached through the model gateway's /gemini route, with the project's
// GEMINI_API_KEY injected on the host: the command it runs leaves its file in the workspace,
// the events come normalized, and a follow-up resumes the same Gemini session.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentProject } from "../helpers/agent-project.ts";
import { type GeminiStub, startGeminiStub } from "../helpers/gemini-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec } from "../helpers/sandboxes.ts";
import { api, type TestServer } from "../helpers/server.ts";

const KEY = "AIzaSy-the-real-gemini-key-stays-outside";

describe("Gemini CLI in a sandbox", () => {
  let s: TestServer;
  let stub: GeminiStub;
  let box: any;
  let conversation: any;

  before(async () => {
    stub = await startGeminiStub();
    ({ s, box } = await agentProject({ name: "gemini", settings: { geminiUpstream: stub.url }, credential: { name: "GEMINI_API_KEY", value: KEY } }));
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a turn that runs a command: the file, the events, the answer", async () => {
    stub.queue(
      { parts: [{ text: "I will write the file." }, { call: "run_shell_command", args: { command: "echo made-by-gemini > /workspace/gemini.txt" } }] },
      { parts: [{ text: "Wrote gemini.txt." }] },
    );
    conversation = (await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "gemini", model: "gemini-2.5-pro" } })).body;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "Write gemini.txt" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? e.data.message ?? ""])));
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
    );
    const call = events.find((e) => e.event === "tool_call")!;
    assert.equal(call.data.name, "run_shell_command");
    assert.match(JSON.stringify(call.data.input), /echo made-by-gemini/);
    const result = events.find((e) => e.event === "tool_result")!;
    assert.equal(result.data.toolCallId, call.data.toolCallId);
    assert.equal(result.data.isError, false);
    assert.ok(events.some((e) => e.event === "message_delta"));
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "Wrote gemini.txt.");
    // The turn's usage is what the provider reported for this turn's calls.
    const usage = events.find((e) => e.event === "usage")!;
    assert.deepEqual([usage.data.inputTokens, usage.data.outputTokens], stubTokens(stub.requests), JSON.stringify(usage.data));
    assert.equal((await exec(s, box.id, "cat /workspace/gemini.txt")).stdout, "made-by-gemini\n");

    // The provider saw the real key on every call; the sandbox never held it.
    assert.ok(stub.turns().length >= 2);
    for (const request of stub.requests) assert.equal(request.headers["x-goog-api-key"], KEY);
    const inside = await exec(s, box.id, "env; grep -rs 'the-real-gemini-key' ~ /workspace /tmp; echo end");
    assert.ok(!inside.stdout.includes(KEY));
    // The gateway counted the calls against the project (recorded as each answer ends).
    const counted = await geminiUsage(s);
    assert.ok(
      counted.some((t: any) => t.model === "gemini-2.5-pro" && t.inputTokens > 0),
      JSON.stringify(counted),
    );
  });

  test("a follow-up resumes the Gemini session", async () => {
    stub.queue({ parts: [{ text: "You asked for gemini.txt." }] });
    const before = stub.turns().length;
    const requestsBefore = stub.requests.length;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "What did I ask?" } });
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? e.data.message ?? ""])));
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "You asked for gemini.txt.");
    // A resumed session reports this turn's tokens, not the session's so far.
    const usage = events.find((e) => e.event === "usage")!;
    assert.deepEqual([usage.data.inputTokens, usage.data.outputTokens], stubTokens(stub.requests.slice(requestsBefore)), JSON.stringify(usage.data));
    const transcript = JSON.stringify(stub.turns()[before]!.body.contents);
    assert.ok(transcript.includes("Write gemini.txt"), "the earlier turn is in the resumed session");
    assert.ok(transcript.includes("What did I ask?"));
    const detail = await api(s, "GET", `/api/v1/conversations/${conversation.id}`);
    assert.ok(detail.body.sessionId);
  });
});

/** Input and output tokens the stand-in reported for these calls (streamed: 200/20 by default, side questions: 50/10). */
function stubTokens(requests: GeminiStub["requests"]): [number, number] {
  const streamed = requests.filter((r) => r.url.includes(":streamGenerateContent")).length;
  const side = requests.filter((r) => r.url.includes(":generateContent")).length;
  return [streamed * 200 + side * 50, streamed * 20 + side * 10];
}

/** The project's Gemini usage rows, once the gateway has recorded some. */
async function geminiUsage(s: TestServer): Promise<any[]> {
  for (;;) {
    const res = await api(s, "GET", "/api/v1/projects/gemini/usage");
    const rows = res.body.totals.filter((t: any) => t.provider === "gemini");
    if (rows.length > 0) return rows;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
