// The Claude Code adapter on transcripts recorded from the real CLI (2.1.332) against the
// stand-in Messages API (test/helpers/anthropic-agent-stub.ts): what users see of a turn.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { AgentLaunchInput, AgentOutput } from "../../src/domain/agents/adapter.ts";
import { claudeCodeAdapter } from "../../src/domain/agents/claude-code.ts";

function parse(name: string): AgentOutput[] {
  const parser = claudeCodeAdapter.parser();
  const lines = readFileSync(new URL(`../fixtures/agents/claude-code-${name}.jsonl`, import.meta.url), "utf8")
    .trim()
    .split("\n");
  return [...lines.flatMap((line) => parser.line(line)), ...parser.end({ exitCode: 0, signal: null })];
}

const kinds = (outputs: AgentOutput[]) => outputs.map((o) => (o.kind === "event" ? o.event.type : o.kind));

test("a turn with tools becomes text, tool calls, results and diffs, in the order they happened", () => {
  const outputs = parse("tools");
  const compact = kinds(outputs).filter((k, i, all) => k !== "message_delta" || all[i - 1] !== "message_delta");
  assert.deepEqual(compact, [
    "session",
    "thinking",
    "message_delta",
    "message",
    "tool_call",
    "tool_result",
    "file_change",
    "tool_call",
    "tool_result",
    "tool_call",
    "tool_result",
    "file_change",
    "tool_call",
    "todo",
    "tool_result",
    "message_delta",
    "message",
    "usage",
    "turn_end",
  ]);
  const events = outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
  const deltas = events.filter((e) => e.type === "message_delta").map((e) => (e as { text: string }).text);
  assert.equal(deltas.slice(0, 3).join(""), "I'll write the file and check it.");
  const write = events.find((e) => e.type === "tool_call");
  assert.deepEqual(write, {
    type: "tool_call",
    toolCallId: "toolu_stub_1",
    name: "Write",
    input: { file_path: "/tmp/spike/ws2/hello.txt", content: "hello\n" },
  });
  const changes = events.filter((e) => e.type === "file_change");
  assert.deepEqual(changes[0], {
    type: "file_change",
    path: "/tmp/spike/ws2/hello.txt",
    toolCallId: "toolu_stub_1",
    diff: "--- /dev/null\n+++ b/tmp/spike/ws2/hello.txt\n@@ -0,0 +1,1 @@\n+hello\n",
  });
  assert.equal((changes[1] as { diff: string }).diff, "--- a/tmp/spike/ws2/hello.txt\n+++ b/tmp/spike/ws2/hello.txt\n@@ -1,1 +1,1 @@\n-hello\n+hello, world\n");
  const bash = events.filter((e) => e.type === "tool_result")[1];
  assert.deepEqual(bash, { type: "tool_result", toolCallId: "toolu_stub_2", output: "hello\nran", isError: false });
  assert.deepEqual(
    events.find((e) => e.type === "todo"),
    {
      type: "todo",
      items: [
        { text: "Write the file", status: "completed" },
        { text: "Say done", status: "in_progress" },
      ],
    },
  );
  assert.deepEqual(
    events.find((e) => e.type === "usage"),
    { type: "usage", inputTokens: 500, outputTokens: 100, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.003 },
  );
  assert.deepEqual(outputs.at(-1), { kind: "turn_end", outcome: "succeeded" });
  assert.deepEqual(outputs[0], { kind: "session", sessionId: "25c7428c-cb56-4de0-bfa2-1645e7f19a38" });
});

test("a resumed turn keeps the session id it resumed", () => {
  const outputs = parse("resume");
  assert.deepEqual(outputs[0], { kind: "session", sessionId: "25c7428c-cb56-4de0-bfa2-1645e7f19a38" });
  assert.equal(outputs.filter((o) => o.kind === "session").length, 1);
});

test("a permission request becomes an approval request, answered in Claude's control protocol", () => {
  const outputs = parse("approve-deny");
  const request = outputs.find((o) => o.kind === "approval_request");
  assert.ok(request && request.kind === "approval_request");
  assert.equal(request.tool, "Bash");
  assert.equal(request.toolCallId, "toolu_stub_6");
  assert.deepEqual(request.input, { command: "echo denied > denied.txt", description: "x" });
  const answer = JSON.parse(claudeCodeAdapter.answerApproval!(request.requestId, { allow: false, input: request.input, message: "no" }));
  assert.deepEqual(answer, {
    type: "control_response",
    response: { subtype: "success", request_id: request.requestId, response: { behavior: "deny", message: "no" } },
  });
  const denied = outputs.find((o) => o.kind === "event" && o.event.type === "tool_result");
  assert.deepEqual(denied, {
    kind: "event",
    event: { type: "tool_result", toolCallId: "toolu_stub_6", output: "Denied by a person in Outpost.", isError: true },
  });
});

test("a turn the model API refused ends failed with the API's reason", () => {
  const end = parse("api-error").at(-1);
  assert.equal(end?.kind, "turn_end");
  assert.equal(end?.kind === "turn_end" && end.outcome, "failed");
  assert.match(end?.kind === "turn_end" ? (end.reason ?? "") : "", /Prompt is too long.*\(model API answered 400\)/);
});

test("a process that dies before its result ends the turn failed, saying how", () => {
  const parser = claudeCodeAdapter.parser();
  assert.deepEqual(parser.end({ exitCode: null, signal: "SIGKILL" }), [
    { kind: "turn_end", outcome: "failed", reason: "Claude Code was killed by SIGKILL before it finished the turn" },
  ]);
  assert.deepEqual(parser.line("not json"), []);
  assert.deepEqual(parser.line('{"type":"assistant","message":{"content":"nope"}}'), []);
});

test("launch: a new turn and a resumed one, bypass and approve", () => {
  const input: AgentLaunchInput = {
    prompt: "hi",
    sessionId: null,
    model: null,
    permissionMode: "bypass",
    maxTurns: null,
    paths: {
      installDir: "/opt/agents/claude-code/2.1.332",
      executable: "/opt/agents/claude-code/2.1.332/claude",
      node: "/opt/outpost/bin/node",
      workspace: "/workspace",
      home: "/home/agent",
    },
  };
  const fresh = claudeCodeAdapter.launch(input);
  assert.ok(fresh.command.includes("bypassPermissions"));
  assert.ok(!fresh.command.includes("--resume"));
  assert.deepEqual(JSON.parse(fresh.stdin[0]!), { type: "user", message: { role: "user", content: "hi" } });
  assert.equal(fresh.closeStdin, false);
  const resumed = claudeCodeAdapter.launch({ ...input, sessionId: "abc", permissionMode: "approve", model: "claude-x" });
  assert.deepEqual(resumed.command.slice(-8), ["--permission-mode", "default", "--permission-prompt-tool", "stdio", "--model", "claude-x", "--resume", "abc"]);
});
