// The Gemini CLI adapter on transcripts recorded from the real CLI (0.61.0, headless
// stream-json) against the stand-in Gemini API (test/helpers/gemini-stub.ts).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { AgentLaunchInput, AgentOutput } from "../../src/domain/agents/adapter.ts";
import type { RunEventPayload } from "../../src/domain/agents/events.ts";
import { createGeminiAdapter, geminiAdapter } from "../../src/domain/agents/gemini.ts";

function parse(name: string, exit: { exitCode: number | null; signal: string | null } = { exitCode: 0, signal: null }): AgentOutput[] {
  const parser = geminiAdapter.parser();
  const lines = readFileSync(new URL(`../fixtures/agents/gemini-${name}.jsonl`, import.meta.url), "utf8")
    .trim()
    .split("\n");
  return [...lines.flatMap((line) => parser.line(line)), ...parser.end(exit)];
}

const kinds = (outputs: AgentOutput[]) => outputs.map((o) => (o.kind === "event" ? o.event.type : o.kind));
const events = (outputs: AgentOutput[]): RunEventPayload[] => outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));

const input: AgentLaunchInput = {
  prompt: "Fix the tests\nthen commit",
  sessionId: null,
  model: null,
  permissionMode: "bypass",
  maxTurns: null,
  paths: {
    installDir: "/opt/agents/gemini/0.61.0",
    executable: "/opt/agents/gemini/0.61.0/node_modules/@google/gemini-cli/bundle/gemini.js",
    node: "/opt/outpost/bin/node",
    workspace: "/workspace",
    home: "/home/outpost",
  },
};

test("a text answer streams deltas, then the whole message, usage and the end of the turn", () => {
  const outputs = parse("text");
  assert.deepEqual(kinds(outputs), ["session", "message_delta", "message_delta", "message_delta", "message", "usage", "turn_end"]);
  assert.deepEqual(outputs[0], { kind: "session", sessionId: "b4f8970f-5068-45c5-89fc-7344f277677e" });
  assert.deepEqual(outputs[4], { kind: "event", event: { type: "message", text: "Hello from the Gemini stub!" } });
  // Usage covers the CLI's side question to a small model too: it is what the turn cost.
  assert.deepEqual(outputs[5], {
    kind: "event",
    event: { type: "usage", inputTokens: 250, outputTokens: 30, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null },
  });
  assert.deepEqual(outputs.at(-1), { kind: "turn_end", outcome: "succeeded" });
});

test("tool calls come with their results, the to-do list and the files they wrote", () => {
  const outputs = parse("tools");
  const compact = kinds(outputs).filter((k, i, all) => k !== "message_delta" || all[i - 1] !== "message_delta");
  assert.deepEqual(compact, [
    "session",
    "message_delta",
    "message",
    "tool_call",
    "todo",
    "tool_result",
    "tool_call",
    "tool_result",
    "file_change",
    "tool_call",
    "tool_result",
    "file_change",
    "tool_call",
    "tool_result",
    "tool_call",
    "tool_result",
    "message_delta",
    "message",
    "usage",
    "turn_end",
  ]);
  const all = events(outputs);
  assert.deepEqual(
    all.find((e) => e.type === "todo"),
    {
      type: "todo",
      items: [
        { text: "Write hello.txt", status: "in_progress" },
        { text: "Run a command", status: "pending" },
      ],
    },
  );
  const writeId = "write_file__write_file_1796034658055_0";
  assert.deepEqual(
    all.find((e) => e.type === "tool_call" && e.name === "write_file"),
    {
      type: "tool_call",
      toolCallId: writeId,
      name: "write_file",
      input: { file_path: "hello.txt", content: "hi there\n" },
    },
  );
  assert.deepEqual(
    all.filter((e) => e.type === "file_change"),
    [
      { type: "file_change", path: "hello.txt", diff: "--- /dev/null\n+++ b/hello.txt\n@@ -0,0 +1,1 @@\n+hi there\n", toolCallId: writeId },
      { type: "file_change", path: "hello.txt", diff: "", toolCallId: "replace__replace_1796034658134_0" },
    ],
  );
  const shell = all.filter((e) => e.type === "tool_result").at(-2);
  assert.deepEqual(shell, {
    type: "tool_result",
    toolCallId: "run_shell_command__run_shell_command_1796034658182_0",
    output: "hi\nhello there",
    isError: false,
  });
  assert.deepEqual(all.at(-1), { type: "usage", inputTokens: 1500, outputTokens: 140, cacheReadTokens: 100, cacheWriteTokens: 0, costUsd: null });
});

test("a resumed turn reports the session it resumed", () => {
  assert.deepEqual(parse("resume")[0], parse("tools")[0]);
});

test("a model API error ends the turn failed with the API's message", () => {
  const outputs = parse("api-error", { exitCode: 144, signal: null });
  const message = '[API Error: {"error":{"code":400,"message":"Request contains an invalid argument.","status":"INVALID_ARGUMENT"}}]';
  assert.deepEqual(outputs.slice(-2), [
    { kind: "event", event: { type: "error", code: "AGENT_ERROR", message } },
    { kind: "turn_end", outcome: "failed", reason: message },
  ]);
});

test("a CLI that dies mid-answer keeps the text it streamed and ends the turn failed", () => {
  const parser = geminiAdapter.parser();
  parser.line('{"type":"init","session_id":"s1","model":"m"}');
  parser.line('{"type":"message","role":"assistant","content":"Half an ans","delta":true}');
  assert.deepEqual(parser.end({ exitCode: null, signal: "SIGKILL" }), [
    { kind: "event", event: { type: "message", text: "Half an ans" } },
    { kind: "turn_end", outcome: "failed", reason: "Gemini CLI was killed by SIGKILL before it finished the turn" },
  ]);
});

test("lines that are not stream-json events are ignored", () => {
  const parser = geminiAdapter.parser();
  assert.deepEqual(parser.line("YOLO mode is enabled."), []);
  assert.deepEqual(parser.line('{"type":"message","role":"user","content":"hi"}'), []);
});

test("a new turn reads the prompt from stdin, signs in with the gateway's placeholder key and runs tools unasked", () => {
  const launch = geminiAdapter.launch(input);
  assert.equal(launch.command[0], "/bin/sh");
  assert.deepEqual(launch.command.slice(3), [
    "gemini",
    input.paths.node,
    input.paths.executable,
    "-p",
    "",
    "--output-format",
    "stream-json",
    "--approval-mode",
    "yolo",
    "--skip-trust",
  ]);
  assert.deepEqual(launch.stdin, ["Fix the tests", "then commit"]);
  assert.equal(launch.closeStdin, true);
  assert.equal(launch.env["GOOGLE_GEMINI_BASE_URL"], "http://127.0.0.1:3129/gemini");
  assert.equal(JSON.parse(launch.env["OUTPOST_GEMINI_SETTINGS"]!).security.auth.selectedType, "gemini-api-key");
});

test("a follow-up resumes the session, with the model when one is set", () => {
  const launch = createGeminiAdapter({ geminiBaseUrl: "http://127.0.0.1:9" }).launch({ ...input, sessionId: "s-1", model: "gemini-2.5-pro" });
  assert.deepEqual(launch.command.slice(-4), ["--model", "gemini-2.5-pro", "--resume", "s-1"]);
  assert.equal(launch.env["GOOGLE_GEMINI_BASE_URL"], "http://127.0.0.1:9");
});
