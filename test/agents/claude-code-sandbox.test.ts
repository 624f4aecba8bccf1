// The real Claude Code CLI (installed from npm by Outpost) runs a turn inside a real
// sandbox against a stand-in Messages API reached through the model gateway, with the key
// injected on the host: the file it writes is in the workspace, the run's events are the
// normalized ones in order with gapless sequence numbers, a follow-up resumes the same
// agent session, and the key is nowhere inside the sandbox.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { agentProject } from "../helpers/agent-project.ts";
import { type AnthropicAgentStub, startAnthropicAgentStub } from "../helpers/anthropic-agent-stub.ts";
import { runEvents } from "../helpers/runs.ts";
import { exec } from "../helpers/sandboxes.ts";
import { api, type TestServer } from "../helpers/server.ts";
import { collectSse } from "../helpers/sse.ts";

const KEY = "sk-ant-api03-the-real-key-never-inside-the-sandbox";

describe("Claude Code in a sandbox", () => {
  let s: TestServer;
  let stub: AnthropicAgentStub;
  let box: any;
  let conversation: any;

  before(async () => {
    stub = await startAnthropicAgentStub();
    ({ s, box } = await agentProject({
      name: "agent",
      settings: { anthropicUpstream: stub.url },
      credential: { name: "ANTHROPIC_API_KEY", value: KEY },
      project: { instructions: "Answer briefly." },
    }));
  });
  after(async () => {
    await s?.close();
    await stub?.close();
  });

  test("a turn that writes a file and runs a command: the file, the events in order, the usage", async () => {
    stub.queue(
      {
        blocks: [
          { thinking: "A file is wanted." },
          { text: "I'll write the file." },
          { tool: "Write", input: { file_path: "/workspace/hello.txt", content: "hello\n" } },
        ],
      },
      { blocks: [{ tool: "Bash", input: { command: "cat /workspace/hello.txt && echo ran", description: "Show it" } }] },
      { blocks: [{ text: "Done: **hello.txt** is there." }], usage: { input: 300, output: 40 } },
    );
    const created = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "claude-code", model: "claude-sonnet-4-5" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    conversation = created.body;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "Write hello.txt and show it" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.queued, false);

    const events = await runEvents(s, sent.body.run.id);
    const last = events.at(-1)!;
    assert.equal(last.data.status, "succeeded", JSON.stringify(events.map((e) => [e.event, e.data.reason ?? ""])));
    assert.deepEqual(
      events.map((e) => Number(e.id)),
      events.map((_, i) => i + 1),
      "sequence numbers 1..n, no gaps",
    );
    const types = events.map((e) => e.event).filter((t, i, all) => t !== "message_delta" || all[i - 1] !== "message_delta");
    assert.deepEqual(types, [
      "status", // queued
      "status", // running
      "thinking",
      "message_delta",
      "message",
      "tool_call",
      "tool_result",
      "file_change",
      "tool_call",
      "tool_result",
      "message_delta",
      "message",
      "usage",
      "status", // succeeded
    ]);
    const write = events.find((e) => e.event === "tool_call")!;
    assert.equal(write.data.name, "Write");
    assert.equal(write.data.input.file_path, "/workspace/hello.txt");
    const diff = events.find((e) => e.event === "file_change")!;
    assert.equal(diff.data.path, "/workspace/hello.txt");
    assert.match(diff.data.diff, /^\+hello$/m);
    const bash = events.filter((e) => e.event === "tool_result")[1]!;
    assert.equal(bash.data.output, "hello\nran");
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "Done: **hello.txt** is there.");
    assert.ok(events.find((e) => e.event === "usage")!.data.outputTokens > 0);

    const file = await exec(s, box.id, "cat /workspace/hello.txt");
    assert.equal(file.stdout, "hello\n");
    // The project's instructions reached Claude Code as user-level instructions, not the repo's CLAUDE.md.
    const instructions = await exec(s, box.id, "cat ~/.claude/CLAUDE.md; test -e /workspace/CLAUDE.md && echo repo-file");
    assert.equal(instructions.stdout, "Answer briefly.");

    const run = await api(s, "GET", `/api/v1/runs/${sent.body.run.id}`);
    assert.equal(run.body.status, "succeeded");
    assert.equal(run.body.eventCount, events.length);
    const detail = await api(s, "GET", `/api/v1/conversations/${conversation.id}`);
    assert.equal(detail.body.title, "Write hello.txt and show it");
    assert.match(detail.body.sessionId, /^[0-9a-f-]{36}$/);
  });

  test("the model key reached the provider from the host; inside the sandbox there is only a placeholder", async () => {
    for (const request of stub.requests) assert.equal(request.headers["x-api-key"], KEY);
    const inside = await exec(
      s,
      box.id,
      "env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'; grep -rs 'the-real-key' ~ /workspace /tmp /run/outpost; echo end",
    );
    assert.ok(!inside.stdout.includes(KEY), "the key is not in any environment or file of the sandbox");
    assert.match(inside.stdout, /ANTHROPIC_API_KEY=sk-ant-outpost-placeholder-/);
  });

  test("a follow-up resumes the same Claude session, with the earlier turn in its context", async () => {
    stub.queue({ blocks: [{ text: "You asked me to write hello.txt." }] });
    const before = stub.requests.length;
    const sessionBefore = (await api(s, "GET", `/api/v1/conversations/${conversation.id}`)).body.sessionId;
    const sent = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "What did I ask you?" } });
    const events = await runEvents(s, sent.body.run.id);
    assert.equal(events.at(-1)!.data.status, "succeeded");
    assert.equal(events.filter((e) => e.event === "message").at(-1)!.data.text, "You asked me to write hello.txt.");
    const request = stub.requests[before]!;
    const transcript = JSON.stringify(request.body.messages);
    assert.ok(transcript.includes("Write hello.txt and show it"), "the first turn is in the resumed context");
    assert.ok(transcript.includes("What did I ask you?"));
    const detail = await api(s, "GET", `/api/v1/conversations/${conversation.id}`);
    assert.equal(detail.body.sessionId, sessionBefore);
    assert.equal(detail.body.runs.length, 2);

    // The raw output is kept for debugging: the agent's own stream-json lines.
    const raw = await fetch(`${s.url}/api/v1/runs/${sent.body.run.id}/raw`, { headers: { authorization: `Bearer ${s.token}` } });
    assert.equal(raw.status, 200);
    const lines = (await raw.text()).trim().split("\n");
    assert.equal(JSON.parse(lines[0]!).type, "system");
    assert.equal(JSON.parse(lines.at(-1)!).type, "result");
  });

  test("a conversation's stream replays every run and resumes after Last-Event-ID without repeats", async () => {
    const all = await collectSse(`${s.url}/api/v1/conversations/${conversation.id}/events?follow=false`, { token: s.token, until: () => false });
    assert.deepEqual(
      all.map((e) => Number(e.id)),
      all.map((_, i) => i + 1),
    );
    const resumed = await collectSse(`${s.url}/api/v1/conversations/${conversation.id}/events?follow=false`, {
      token: s.token,
      headers: { "last-event-id": String(all.length - 3) },
      until: () => false,
    });
    assert.deepEqual(
      resumed.map((e) => e.id),
      all.slice(-3).map((e) => e.id),
    );
  });

  test("bad input: an unknown agent, an empty message, another user's conversation", async () => {
    const agent = await api(s, "POST", `/api/v1/sandboxes/${box.id}/conversations`, { body: { agent: "hal-9000" } });
    assert.equal(agent.status, 400);
    assert.equal(agent.body.error.code, "VALIDATION_FAILED");
    const empty = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "" } });
    assert.equal(empty.status, 400);
    const unknown = await api(s, "POST", `/api/v1/conversations/${conversation.id}/messages`, { body: { text: "hi", extra: 1 } });
    assert.equal(unknown.status, 400);
    const user = await api(s, "POST", "/api/v1/users", { body: { name: "mallory" } });
    const token = (await api(s, "POST", `/api/v1/users/${user.body.id}/tokens`, { body: { name: "t" } })).body.token;
    assert.ok(token);
    const theirs = await api(s, "GET", `/api/v1/conversations/${conversation.id}`, { token });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, "CONVERSATION_NOT_FOUND");
    const cancel = await api(s, "POST", "/api/v1/runs/run_doesnotexist1/cancel", { token });
    assert.equal(cancel.status, 404);
  });
});
