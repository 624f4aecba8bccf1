// The OpenCode adapter on transcripts recorded from the real CLI (1.18.33, `opencode run
// --format json`) against the stand-in Responses API (test/helpers/openai-responses-stub.ts):
// what users see of a turn, and the command line that starts one.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import type { AgentLaunchInput, AgentOutput } from "../../src/domain/agents/adapter.ts";
import type { RunEventPayload } from "../../src/domain/agents/events.ts";
import { createOpencodeAdapter, opencodeAdapter } from "../../src/domain/agents/opencode.ts";
import { agentAdapter } from "../../src/domain/agents/registry.ts";

function parse(name: string, exit: { exitCode: number | null; signal: string | null } = { exitCode: 0, signal: null }): AgentOutput[] {
  const parser = opencodeAdapter.parser();
  const lines = readFileSync(new URL(`../fixtures/agents/opencode-${name}.jsonl`, import.meta.url), "utf8")
    .trim()
    .split("\n");
  return [...lines.flatMap((line) => parser.line(line)), ...parser.end(exit)];
}

const kinds = (outputs: AgentOutput[]) => outputs.map((o) => (o.kind === "event" ? o.event.type : o.kind));
const events = (outputs: AgentOutput[]): RunEventPayload[] => outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
const toolLine = (part: Record<string, unknown>) => JSON.stringify({ type: "tool_use", sessionID: "ses_1", part: { type: "tool", ...part } });

const input: AgentLaunchInput = {
  prompt: "Fix the tests\nthen commit",
  sessionId: null,
  model: null,
  permissionMode: "bypass",
  maxTurns: null,
  paths: {
    installDir: "/opt/agents/opencode/1.18.33",
    executable: "/opt/agents/opencode/1.18.33/node_modules/opencode-linux-x64/bin/opencode",
    node: "/opt/outpost/bin/node",
    workspace: "/workspace",
    home: "/home/outpost",
  },
};

test("a text answer becomes the session, the message, usage with its cost and the end of the turn", () => {
  assert.deepEqual(parse("text"), [
    { kind: "session", sessionId: "ses_dd3f9d689ffeaK5PQyV5SNA73J" },
    { kind: "event", event: { type: "message", text: "Hello! How can I help you today?" } },
    { kind: "event", event: { type: "usage", inputTokens: 300, outputTokens: 12, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.00186 } },
    { kind: "turn_end", outcome: "succeeded" },
  ]);
});

test("todos, patches and commands become tool calls with their results; a patch shows its diff", () => {
  const outputs = parse("tools");
  assert.deepEqual(kinds(outputs), [
    "session",
    "tool_call",
    "todo",
    "tool_result",
    "usage",
    "tool_call",
    "file_change",
    "tool_result",
    "usage",
    "tool_call",
    "tool_result",
    "usage",
    "tool_call",
    "tool_result",
    "usage",
    "message",
    "usage",
    "turn_end",
  ]);
  const all = events(outputs);
  assert.deepEqual(
    all.flatMap((e) => (e.type === "tool_call" ? [e.name] : [])),
    ["todowrite", "apply_patch", "bash", "bash"],
  );
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
  assert.deepEqual(
    all.find((e) => e.type === "file_change"),
    {
      type: "file_change",
      path: "/tmp/h2/o1/ws/hello.txt",
      diff: "--- /dev/null\n+++ /tmp/h2/o1/ws/hello.txt\n@@ -0,0 +1,1 @@\n+hi there\n",
      toolCallId: "call_272c4c0dffaf436dad4d8924e3b8b78b",
    },
  );
  const results = all.filter((e) => e.type === "tool_result");
  assert.deepEqual(results[2], { type: "tool_result", toolCallId: "call_056b1c89f6fc4e1ab3b503d60f3a2609", output: "hi\nhi there\n", isError: false });
  assert.deepEqual(results[3], {
    type: "tool_result",
    toolCallId: "call_b32395ab1e954400bd80a3592fde67f7",
    output: "cat: missing.txt: No such file or directory\n",
    isError: true,
  });
  assert.deepEqual(all.at(-2), { type: "message", text: "Both files are written." });
  // Each step reports its own tokens; the usage events are the turn's running total.
  // Reasoning is billed as output; cached tokens are kept apart.
  assert.deepEqual(all.at(-1), { type: "usage", inputTokens: 980, outputTokens: 160, cacheReadTokens: 100, cacheWriteTokens: 0, costUsd: 0.00975 });
});

test("a resumed turn reports the session it resumed", () => {
  const tools = parse("tools");
  const resume = parse("resume");
  assert.deepEqual(resume[0], tools[0]);
  assert.equal(resume.filter((o) => o.kind === "session").length, 1);
  assert.deepEqual(events(resume)[0], { type: "message", text: "hello.txt says hi there." });
  assert.deepEqual(resume.at(-1), { kind: "turn_end", outcome: "succeeded" });
});

test("a model API error ends the turn failed with the API's message, shown once", () => {
  assert.deepEqual(parse("api-error", { exitCode: 1, signal: null }), [
    { kind: "session", sessionId: "ses_dd3fa19bfffeSXm3K9TsQlSbq5" },
    { kind: "event", event: { type: "error", code: "AGENT_ERROR", message: "Invalid request." } },
    { kind: "turn_end", outcome: "failed", reason: "Invalid request." },
  ]);
});

test("an agent that dies before finishing the turn ends it failed, saying how", () => {
  const parser = opencodeAdapter.parser();
  parser.line('{"type":"step_start","sessionID":"ses_1","part":{"type":"step-start"}}');
  assert.deepEqual(parser.end({ exitCode: null, signal: "SIGKILL" }), [
    { kind: "turn_end", outcome: "failed", reason: "OpenCode was killed by SIGKILL before it finished the turn" },
  ]);
  assert.deepEqual(opencodeAdapter.parser().end({ exitCode: 1, signal: null }), [
    { kind: "turn_end", outcome: "failed", reason: "OpenCode exited with code 1 before it finished the turn" },
  ]);
});

test("a tool that fails shows OpenCode's error as its result", () => {
  const parser = opencodeAdapter.parser();
  const outputs = parser.line(
    toolLine({ tool: "read", callID: "call_1", state: { status: "error", input: { filePath: "/nope" }, error: "File not found: /nope" } }),
  );
  assert.deepEqual(events(outputs), [
    { type: "tool_call", toolCallId: "call_1", name: "read", input: { filePath: "/nope" } },
    { type: "tool_result", toolCallId: "call_1", output: "File not found: /nope", isError: true },
  ]);
});

test("edits show OpenCode's diff; a new file written shows its content; an overwrite names the file", () => {
  const parser = opencodeAdapter.parser();
  const diff = "Index: /w/a.ts\n===================================================================\n--- /w/a.ts\n+++ /w/a.ts\n@@ -1,1 +1,1 @@\n-old\n+new\n\n";
  const edit = parser.line(
    toolLine({ tool: "edit", callID: "c1", state: { status: "completed", input: { filePath: "/w/a.ts" }, output: "Edit applied.", metadata: { diff } } }),
  );
  assert.deepEqual(
    events(edit).find((e) => e.type === "file_change"),
    { type: "file_change", path: "/w/a.ts", diff: "--- /w/a.ts\n+++ /w/a.ts\n@@ -1,1 +1,1 @@\n-old\n+new\n", toolCallId: "c1" },
  );
  const created = parser.line(
    toolLine({
      tool: "write",
      callID: "c2",
      state: { status: "completed", input: { filePath: "/w/b.txt", content: "x\n" }, output: "", metadata: { exists: false } },
    }),
  );
  assert.deepEqual(
    events(created).find((e) => e.type === "file_change"),
    { type: "file_change", path: "/w/b.txt", diff: "--- /dev/null\n+++ b/w/b.txt\n@@ -0,0 +1,1 @@\n+x\n", toolCallId: "c2" },
  );
  const overwritten = parser.line(
    toolLine({
      tool: "write",
      callID: "c3",
      state: { status: "completed", input: { filePath: "/w/b.txt", content: "y\n" }, output: "", metadata: { exists: true } },
    }),
  );
  assert.deepEqual(
    events(overwritten).find((e) => e.type === "file_change"),
    { type: "file_change", path: "/w/b.txt", diff: "", toolCallId: "c3" },
  );
});

test("lines that are not OpenCode events are ignored", () => {
  const parser = opencodeAdapter.parser();
  assert.deepEqual(parser.line("! permission requested: external_directory; auto-rejecting"), []);
  assert.deepEqual(parser.line('{"type":"something_new","x":1}'), []);
  assert.deepEqual(parser.line("[1,2]"), []);
});

test("tool output is cut to the event limit with a visible marker", () => {
  const parser = opencodeAdapter.parser();
  const outputs = parser.line(
    toolLine({ tool: "bash", callID: "c1", state: { status: "completed", input: { command: "yes" }, output: "y\n".repeat(100_000), metadata: { exit: 0 } } }),
  );
  const result = events(outputs).find((e) => e.type === "tool_result");
  assert.ok(result?.type === "tool_result");
  assert.equal(result.output.length, 64 * 1024 + "\n… [cut by Outpost]".length);
  assert.ok(result.output.endsWith("[cut by Outpost]"));
});

test("a new turn reads the prompt from stdin and talks to the model gateway as the openai provider", () => {
  const launch = opencodeAdapter.launch(input);
  assert.deepEqual(launch.command, [
    input.paths.executable,
    "run",
    "--format",
    "json",
    "--thinking",
    "-m",
    "openai/gpt-5.5",
    "--title=Fix the tests",
    "--auto",
  ]);
  assert.deepEqual(launch.stdin, ["Fix the tests", "then commit"]);
  assert.equal(launch.closeStdin, true);
  assert.deepEqual(JSON.parse(launch.env.OPENCODE_CONFIG_CONTENT!), {
    autoupdate: false,
    share: "disabled",
    enabled_providers: ["openai"],
    provider: { openai: { options: { baseURL: "http://127.0.0.1:3129/openai/v1", apiKey: "{env:OPENAI_API_KEY}" }, models: { "gpt-5.5": {} } } },
  });
  assert.equal(launch.env.OPENCODE_DISABLE_MODELS_FETCH, "1");
  assert.equal(launch.env.OPENCODE_DISABLE_AUTOUPDATE, "1");
});

test("a follow-up continues the session with the run's model; approve mode lets OpenCode refuse what it would ask about", () => {
  const adapter = createOpencodeAdapter({ openaiBaseUrl: "http://127.0.0.1:9/v1" });
  const launch = adapter.launch({ ...input, sessionId: "ses_1", model: "o9-mini", permissionMode: "approve" });
  assert.deepEqual(launch.command.slice(5), ["-m", "openai/o9-mini", "--title=Fix the tests", "-s", "ses_1"]);
  const config = JSON.parse(launch.env.OPENCODE_CONFIG_CONTENT!);
  assert.equal(config.provider.openai.options.baseURL, "http://127.0.0.1:9/v1");
  assert.deepEqual(config.provider.openai.models, { "o9-mini": {} });
});

test("OpenCode is offered, installed from npm as its platform's native binary", () => {
  assert.equal(agentAdapter("opencode"), opencodeAdapter);
  assert.deepEqual(opencodeAdapter.install, {
    package: "opencode-ai",
    version: "1.18.33",
    bin: "node_modules/opencode-linux-{arch}/bin/opencode",
    viaNode: false,
  });
  assert.equal(opencodeAdapter.capabilities.approvals, false);
});
