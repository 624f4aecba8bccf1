// The Codex adapter on transcripts recorded from the real CLI (0.171.0, `codex exec --json`)
// against the stand-in Responses API (test/helpers/openai-responses-stub.ts): what users see
// of a turn, and the command line that starts one.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { AgentLaunchInput, AgentOutput } from "../../src/domain/agents/adapter.ts";
import { codexAdapter, createCodexAdapter } from "../../src/domain/agents/codex.ts";
import type { RunEventPayload } from "../../src/domain/agents/events.ts";

function parse(name: string, exit: { exitCode: number | null; signal: string | null } = { exitCode: 0, signal: null }): AgentOutput[] {
  const parser = codexAdapter.parser();
  const lines = readFileSync(new URL(`../fixtures/agents/codex-${name}.jsonl`, import.meta.url), "utf8")
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
    installDir: "/opt/agents/codex/0.171.0",
    executable: "/opt/agents/codex/0.171.0/node_modules/@openai/codex/bin/codex.js",
    node: "/opt/outpost/bin/node",
    workspace: "/workspace",
    home: "/home/outpost",
  },
};

test("a text answer becomes the session, thinking, the message, usage and the end of the turn", () => {
  const outputs = parse("text");
  assert.deepEqual(outputs, [
    { kind: "session", sessionId: "01a22bfd-8060-7833-91b8-978c7dc69c1b" },
    { kind: "event", event: { type: "thinking", text: "The user wants a greeting." } },
    { kind: "event", event: { type: "message", text: "Hello! How can I help you today?" } },
    { kind: "event", event: { type: "usage", inputTokens: 300, outputTokens: 12, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null } },
    { kind: "turn_end", outcome: "succeeded" },
  ]);
});

test("patches and commands become tool calls with their results, and patches name the files they changed", () => {
  const outputs = parse("tools");
  assert.deepEqual(kinds(outputs), [
    "session",
    "thinking",
    "tool_call",
    "file_change",
    "tool_result",
    "tool_call",
    "tool_result",
    "tool_call",
    "file_change",
    "tool_result",
    "tool_call",
    "tool_result",
    "message",
    "usage",
    "turn_end",
  ]);
  const all = events(outputs);
  const calls = all.filter((e) => e.type === "tool_call");
  assert.deepEqual(
    calls.map((c) => c.name),
    ["apply_patch", "shell", "apply_patch", "shell"],
  );
  assert.deepEqual(calls[1], {
    type: "tool_call",
    toolCallId: "item_2",
    name: "shell",
    input: { command: "/usr/bin/bash -lc 'echo hi > file.txt && cat file.txt && ls'" },
  });
  assert.deepEqual(
    all.filter((e) => e.type === "file_change"),
    [
      { type: "file_change", path: "/tmp/h2/ws/hello.txt", diff: "", toolCallId: "item_1" },
      { type: "file_change", path: "/tmp/h2/ws/hello.txt", diff: "", toolCallId: "item_3" },
    ],
  );
  const results = all.filter((e) => e.type === "tool_result");
  assert.deepEqual(results[1], { type: "tool_result", toolCallId: "item_2", output: "hi\nfile.txt\nhello.txt\n", isError: false });
  assert.deepEqual(results[3], { type: "tool_result", toolCallId: "item_4", output: "cat: missing.txt: No such file or directory\n", isError: true });
  // Codex counts cached tokens inside input_tokens; the event keeps them apart.
  assert.deepEqual(all.at(-1), { type: "usage", inputTokens: 980, outputTokens: 160, cacheReadTokens: 200, cacheWriteTokens: 0, costUsd: null });
});

test("a resumed turn reports the thread it resumed", () => {
  const tools = parse("tools");
  const resume = parse("resume");
  assert.deepEqual(resume[0], tools[0]);
  assert.equal(resume.filter((o) => o.kind === "session").length, 1);
  assert.deepEqual(resume.at(-1), { kind: "turn_end", outcome: "succeeded" });
});

test("a model API that keeps failing ends the turn failed with the API's message, shown once", () => {
  const outputs = parse("api-error", { exitCode: 1, signal: null });
  const message = "We’re currently experiencing high demand, which may cause temporary errors.";
  assert.deepEqual(outputs.slice(1), [
    { kind: "event", event: { type: "error", code: "AGENT_ERROR", message } },
    { kind: "turn_end", outcome: "failed", reason: message },
  ]);
});

test("retries Codex recovers from show as warnings and the turn still succeeds", () => {
  const outputs = parse("retry");
  const warnings = events(outputs).filter((e) => e.type === "error");
  assert.equal(warnings.length, 2);
  assert.ok(warnings.every((w) => w.type === "error" && w.code === "AGENT_WARNING" && w.message.startsWith("Reconnecting... ")));
  assert.deepEqual(outputs.at(-1), { kind: "turn_end", outcome: "succeeded" });
});

test("an agent that dies before finishing the turn ends it failed, saying how", () => {
  const parser = codexAdapter.parser();
  parser.line('{"type":"thread.started","thread_id":"t1"}');
  parser.line('{"type":"turn.started"}');
  assert.deepEqual(parser.end({ exitCode: null, signal: "SIGKILL" }), [
    { kind: "turn_end", outcome: "failed", reason: "Codex was killed by SIGKILL before it finished the turn" },
  ]);
});

test("lines that are not Codex events are ignored", () => {
  const parser = codexAdapter.parser();
  assert.deepEqual(parser.line("WARNING: proceeding"), []);
  assert.deepEqual(parser.line('{"type":"something.new","x":1}'), []);
  assert.deepEqual(parser.line("[1,2]"), []);
});

test("tool output is cut to the event limit with a visible marker", () => {
  const parser = codexAdapter.parser();
  const item = { id: "item_9", type: "command_execution", command: "yes", aggregated_output: "y\n".repeat(100_000), exit_code: 0, status: "completed" };
  const [call, result] = parser.line(JSON.stringify({ type: "item.completed", item }));
  assert.equal(call?.kind === "event" && call.event.type, "tool_call");
  assert.ok(result?.kind === "event" && result.event.type === "tool_result");
  assert.equal(result.event.output.length, 64 * 1024 + "\n… [cut by Outpost]".length);
  assert.ok(result.event.output.endsWith("[cut by Outpost]"));
});

test("a new turn reads the prompt from stdin and talks to the model gateway as its own provider", () => {
  const launch = codexAdapter.launch(input);
  assert.deepEqual(launch.command, [
    input.paths.executable,
    "exec",
    "--json",
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "-c",
    'model_provider="outpost"',
    "-c",
    'model_providers.outpost={name="Outpost model gateway",base_url="http://127.0.0.1:3129/openai/v1",env_key="OPENAI_API_KEY",wire_api="responses"}',
    "-c",
    "analytics.enabled=false",
    "-c",
    "check_for_update_on_startup=false",
    "-",
  ]);
  assert.deepEqual(launch.stdin, ["Fix the tests", "then commit"]);
  assert.equal(launch.closeStdin, true);
  assert.deepEqual(launch.env, {});
});

test("a follow-up resumes the thread, with the model when one is set", () => {
  const launch = createCodexAdapter({ openaiBaseUrl: "http://127.0.0.1:9/v1" }).launch({ ...input, sessionId: "thread-1", model: "gpt-5.5" });
  assert.deepEqual(launch.command.slice(0, 9), [
    input.paths.executable,
    "exec",
    "resume",
    "thread-1",
    "--json",
    "--skip-git-repo-check",
    "--dangerously-bypass-approvals-and-sandbox",
    "--model",
    "gpt-5.5",
  ]);
  assert.ok(
    launch.command.includes(
      'model_providers.outpost={name="Outpost model gateway",base_url="http://127.0.0.1:9/v1",env_key="OPENAI_API_KEY",wire_api="responses"}',
    ),
  );
  assert.equal(launch.command.at(-1), "-");
});
