// What `outpost chat` shows for a run's events: the formatter alone, fed events in the order a
// run's stream sends them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type ChatEvent, ChatFormatter, finalLine, oneLine, toolSummary } from "../../src/cli/commands/chat-format.ts";

/** The terminal text for a sequence of events, then the summary line. */
function render(events: ChatEvent[], width = 80): string {
  const formatter = new ChatFormatter({ width });
  return events.map((e) => formatter.format({ runId: "run_abc123", ...e })).join("") + formatter.summary();
}

test("streamed text is shown as it comes, and the full message that repeats it is not", () => {
  const text = render([
    { type: "status", status: "running" },
    { type: "message_delta", text: "Hello, " },
    { type: "message_delta", text: "world." },
    { type: "message", text: "Hello, world." },
    { type: "status", status: "succeeded" },
  ]);
  assert.equal(text, "Hello, world.\n✓ succeeded\n");
});

test("a message that did not stream (an agent without partial messages) is shown whole", () => {
  assert.equal(render([{ type: "message", text: "All done.\n\n" }]), "All done.\n");
});

test("a tool call starts on a line of its own, its result below it, then the file change", () => {
  const text = render([
    { type: "message_delta", text: "Writing the file" },
    { type: "tool_call", toolCallId: "t1", name: "Write", input: { file_path: "/workspace/x", content: "hi" } },
    { type: "message", text: "Writing the file" },
    { type: "tool_result", toolCallId: "t1", output: "File created successfully\nmore", isError: false },
    { type: "file_change", path: "/workspace/x", diff: "+hi", toolCallId: "t1" },
    { type: "tool_call", toolCallId: "t2", name: "Bash", input: { command: "npm test" } },
    { type: "tool_result", toolCallId: "t2", output: "Error: 3 failing", isError: true },
    { type: "tool_call", toolCallId: "t3", name: "Read", input: {} },
    { type: "tool_result", toolCallId: "t3", output: "", isError: false },
  ]);
  assert.equal(
    text,
    [
      "Writing the file",
      "→ Write /workspace/x",
      "  ✓ File created successfully …",
      "± /workspace/x",
      "→ Bash npm test",
      "  ✗ Error: 3 failing",
      "→ Read",
      "  ✓ (no output)",
      "",
    ].join("\n"),
  );
});

test("long lines are cut to the terminal width, multi-line commands show their first line", () => {
  const text = render(
    [
      { type: "tool_call", toolCallId: "t", name: "Bash", input: { command: "cat <<EOF > a\nline\nEOF" } },
      { type: "tool_result", toolCallId: "t", output: "x".repeat(200), isError: false },
    ],
    30,
  );
  const lines = text.trimEnd().split("\n");
  assert.equal(lines[0], "→ Bash cat <<EOF > a …");
  assert.equal(lines[1]?.length, 30);
  assert.ok(lines[1]?.endsWith("…"));
});

test("a pending approval says how to answer it, in full, whatever the width", () => {
  const text = render(
    [
      { type: "status", status: "waiting" },
      { type: "approval", approvalId: "apr_xyz789", toolCallId: "t", tool: "Bash", input: { command: "git push origin main" }, decision: "pending" },
      {
        type: "approval",
        approvalId: "apr_xyz789",
        toolCallId: "t",
        tool: "Bash",
        input: { command: "git push origin main" },
        decision: "deny",
        message: "not yet",
      },
    ],
    40,
  );
  assert.equal(text, "? approval needed: Bash git push origin main — answer with: outpost approve run_abc123 apr_xyz789 allow|deny\n  denied: not yet\n");
});

test("the final line has the outcome, the reason, tokens and cost", () => {
  const formatter = new ChatFormatter({ width: 80 });
  formatter.format({ type: "usage", inputTokens: 1000, outputTokens: 250, cacheReadTokens: 200, cacheWriteTokens: 0, costUsd: 0.0123 });
  formatter.format({ type: "status", status: "failed", reason: "the run went past its 60 s limit" });
  assert.equal(formatter.summary(), "✗ failed: the run went past its 60 s limit · 1,200 in / 250 out tokens · $0.0123\n");
  // The run resource's usage, when given, is the total and wins over the last usage event.
  assert.match(formatter.summary({ inputTokens: 5, outputTokens: 6, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null }), /· 5 in \/ 6 out tokens\n$/);
  assert.equal(finalLine("cancelled", null, null), "■ cancelled");
});

test("no summary before the final status (a run still going)", () => {
  assert.equal(
    render([
      { type: "status", status: "running" },
      { type: "message_delta", text: "Hi" },
    ]),
    "Hi",
  );
});

test("errors show their hint; to-dos, plans and stalls get a line each", () => {
  const text = render([
    { type: "status", status: "queued" },
    {
      type: "todo",
      items: [
        { text: "read", status: "completed" },
        { text: "fix", status: "in_progress" },
        { text: "test", status: "pending" },
      ],
    },
    { type: "plan", text: "1. read\n2. fix\n" },
    { type: "status", status: "stalled", reason: "no output for 300 s" },
    { type: "error", code: "AGENT_FAILED", message: "Claude Code exited with code 1", hint: "see outpost run raw" },
  ]);
  assert.equal(
    text,
    [
      "  [x] read",
      "  [~] fix",
      "  [ ] test",
      "plan:",
      "1. read",
      "2. fix",
      "! stalled: no output for 300 s",
      "✗ Claude Code exited with code 1 (AGENT_FAILED)",
      "  hint: see outpost run raw",
      "",
    ].join("\n"),
  );
});

test("tool summaries name the input a person recognises, else just the tool", () => {
  assert.equal(toolSummary("WebFetch", { url: "https://example.com", prompt: "x" }), "WebFetch https://example.com");
  assert.equal(toolSummary("Grep", { pattern: "TODO", path: "src" }), "Grep TODO");
  assert.equal(toolSummary("TodoWrite", { todos: [] }), "TodoWrite");
  assert.equal(oneLine("\n\n  first\nsecond", 80), "  first …");
});
