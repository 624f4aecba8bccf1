// Claude Code, driven through its stream-json protocol (`-p --input-format stream-json
// --output-format stream-json`). One process per turn: the prompt goes in as a user message
// on stdin, stdin stays open for control messages (interrupt, answers to `can_use_tool`
// permission requests) and is closed after the `result` line; a follow-up starts a new
// process with `--resume <session_id>` (the session lives in ~/.claude of the sandbox's home).
// Approvals use `--permission-prompt-tool stdio`: the CLI asks on stdout with a
// control_request and waits for our control_response on stdin.
import type { AgentAdapter, AgentLaunch, AgentLaunchInput, AgentOutput, AgentParser } from "./adapter.ts";
import { type DiffHunk, newFileDiff, unifiedDiff } from "./diff.ts";
import { cut, EVENT_LIMITS, type TodoStatus } from "./events.ts";

export const CLAUDE_CODE_VERSION = "2.1.332";

/** Quiet and self-contained: no update checks, telemetry or error reports leave the sandbox
 * (the egress proxy would refuse them anyway, and each refusal is noise in the record). */
const QUIET_ENV = {
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_ERROR_REPORTING: "1",
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  IS_SANDBOX: "1",
};

function launch(input: AgentLaunchInput): AgentLaunch {
  const command = [input.paths.executable, "-p", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose", "--include-partial-messages"];
  if (input.permissionMode === "approve") command.push("--permission-mode", "default", "--permission-prompt-tool", "stdio");
  else command.push("--permission-mode", "bypassPermissions");
  if (input.model) command.push("--model", input.model);
  if (input.sessionId) command.push("--resume", input.sessionId);
  if (input.maxTurns) command.push("--max-turns", String(input.maxTurns));
  const message = { type: "user", message: { role: "user", content: input.prompt } };
  return { command, env: { ...QUIET_ENV }, stdin: [JSON.stringify(message)], closeStdin: false };
}

function parser(): AgentParser {
  let sessionSent = false;
  return {
    line(text) {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return [];
      }
      if (!isObject(value)) return [];
      const out: AgentOutput[] = [];
      const session = value["session_id"];
      if (!sessionSent && typeof session === "string" && session.length > 0 && session.length <= 200) {
        sessionSent = true;
        out.push({ kind: "session", sessionId: session });
      }
      switch (value["type"]) {
        case "stream_event":
          out.push(...streamEvent(value["event"]));
          break;
        case "assistant":
          out.push(...assistantMessage(value["message"]));
          break;
        case "user":
          out.push(...toolResults(value["message"], value["tool_use_result"]));
          break;
        case "control_request":
          out.push(...controlRequest(value));
          break;
        case "result":
          out.push(...result(value));
          break;
      }
      return out;
    },
    end(exit) {
      if (exit.exitCode === 0) return [];
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      return [{ kind: "turn_end", outcome: "failed", reason: `Claude Code ${how} before it finished the turn` }];
    },
  };
}

function streamEvent(event: unknown): AgentOutput[] {
  if (!isObject(event) || event["type"] !== "content_block_delta") return [];
  const delta = event["delta"];
  if (isObject(delta) && delta["type"] === "text_delta" && typeof delta["text"] === "string") {
    return [{ kind: "event", event: { type: "message_delta", text: cut(delta["text"], EVENT_LIMITS.textChars) } }];
  }
  return [];
}

function assistantMessage(message: unknown): AgentOutput[] {
  const out: AgentOutput[] = [];
  for (const block of contentBlocks(message)) {
    if (block["type"] === "text" && typeof block["text"] === "string") {
      out.push({ kind: "event", event: { type: "message", text: cut(block["text"], EVENT_LIMITS.textChars) } });
    } else if (block["type"] === "thinking" && typeof block["thinking"] === "string" && block["thinking"] !== "") {
      out.push({ kind: "event", event: { type: "thinking", text: cut(block["thinking"], EVENT_LIMITS.textChars) } });
    } else if (block["type"] === "tool_use" && typeof block["id"] === "string" && typeof block["name"] === "string") {
      const input = boundedJson(block["input"]);
      out.push({ kind: "event", event: { type: "tool_call", toolCallId: block["id"], name: block["name"], input } });
      out.push(...toolSideEvents(block["name"], block["input"]));
    }
  }
  return out;
}

/** Tools whose input is itself something users want to see: the to-do list and the plan. */
function toolSideEvents(name: string, input: unknown): AgentOutput[] {
  if (!isObject(input)) return [];
  if (name === "TodoWrite" && Array.isArray(input["todos"])) {
    const items = input["todos"]
      .filter(isObject)
      .slice(0, EVENT_LIMITS.todoItems)
      .map((todo) => ({ text: cut(String(todo["content"] ?? ""), 1000), status: todoStatus(todo["status"]) }));
    return [{ kind: "event", event: { type: "todo", items } }];
  }
  if (name === "ExitPlanMode" && typeof input["plan"] === "string") {
    return [{ kind: "event", event: { type: "plan", text: cut(input["plan"], EVENT_LIMITS.textChars) } }];
  }
  return [];
}

function toolResults(message: unknown, toolUseResult: unknown): AgentOutput[] {
  const out: AgentOutput[] = [];
  for (const block of contentBlocks(message)) {
    if (block["type"] !== "tool_result" || typeof block["tool_use_id"] !== "string") continue;
    const toolCallId = block["tool_use_id"];
    const output = cut(resultText(block["content"]), EVENT_LIMITS.toolOutputChars);
    out.push({ kind: "event", event: { type: "tool_result", toolCallId, output, isError: block["is_error"] === true } });
    const change = fileChange(toolUseResult);
    if (change) out.push({ kind: "event", event: { type: "file_change", ...change, toolCallId } });
  }
  return out;
}

/** Edit/Write/MultiEdit results carry the change: hunks (`structuredPatch`) or, for a new
 * file, its content. */
function fileChange(result: unknown): { path: string; diff: string } | null {
  if (!isObject(result) || typeof result["filePath"] !== "string") return null;
  const path = result["filePath"];
  const hunks = Array.isArray(result["structuredPatch"]) ? result["structuredPatch"].filter(isHunk) : [];
  if (hunks.length > 0) return { path, diff: cut(unifiedDiff(path, hunks), EVENT_LIMITS.diffChars) };
  if (result["type"] === "create" && typeof result["content"] === "string") {
    return { path, diff: cut(newFileDiff(path, result["content"]), EVENT_LIMITS.diffChars) };
  }
  return null;
}

function controlRequest(value: Record<string, unknown>): AgentOutput[] {
  const request = value["request"];
  const requestId = value["request_id"];
  if (!isObject(request) || request["subtype"] !== "can_use_tool" || typeof requestId !== "string" || requestId.length > 200) return [];
  const tool = typeof request["tool_name"] === "string" ? request["tool_name"].slice(0, 200) : "unknown";
  const toolCallId = typeof request["tool_use_id"] === "string" ? request["tool_use_id"] : undefined;
  return [{ kind: "approval_request", requestId, tool, input: boundedJson(request["input"]), ...(toolCallId ? { toolCallId } : {}) }];
}

function result(value: Record<string, unknown>): AgentOutput[] {
  const usage = isObject(value["usage"]) ? value["usage"] : {};
  const cost = value["total_cost_usd"];
  const out: AgentOutput[] = [
    {
      kind: "event",
      event: {
        type: "usage",
        inputTokens: count(usage["input_tokens"]),
        outputTokens: count(usage["output_tokens"]),
        cacheReadTokens: count(usage["cache_read_input_tokens"]),
        cacheWriteTokens: count(usage["cache_creation_input_tokens"]),
        costUsd: typeof cost === "number" && Number.isFinite(cost) && cost >= 0 ? cost : null,
      },
    },
  ];
  const failed = value["is_error"] === true || (typeof value["subtype"] === "string" && value["subtype"].startsWith("error"));
  if (!failed) return [...out, { kind: "turn_end", outcome: "succeeded" }];
  const text = typeof value["result"] === "string" ? value["result"] : "";
  const detail = text || (typeof value["terminal_reason"] === "string" ? value["terminal_reason"] : String(value["subtype"] ?? "error"));
  const status = typeof value["api_error_status"] === "number" ? ` (model API answered ${value["api_error_status"]})` : "";
  return [...out, { kind: "turn_end", outcome: "failed", reason: cut(`${detail}${status}`, 2000) }];
}

export const claudeCodeAdapter: AgentAdapter = {
  name: "claude-code",
  install: {
    package: "@anthropic-ai/claude-code",
    version: CLAUDE_CODE_VERSION,
    bin: "node_modules/@anthropic-ai/claude-code-linux-{arch}/claude",
    viaNode: false,
  },
  capabilities: { resume: true, approvals: true, interrupt: true, partialMessages: true },
  credentials: ["ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_AUTH_TOKEN"],
  instructionsFile: ".claude/CLAUDE.md",
  launch,
  parser,
  interrupt: (requestId) => JSON.stringify({ type: "control_request", request_id: requestId, request: { subtype: "interrupt" } }),
  answerApproval: (requestId, answer) =>
    JSON.stringify({
      type: "control_response",
      response: {
        subtype: "success",
        request_id: requestId,
        response: answer.allow
          ? { behavior: "allow", updatedInput: answer.input }
          : { behavior: "deny", message: answer.message ?? "A person denied this in Outpost." },
      },
    }),
};

// ---- helpers --------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function contentBlocks(message: unknown): Record<string, unknown>[] {
  if (!isObject(message) || !Array.isArray(message["content"])) return [];
  return message["content"].filter(isObject);
}

function resultText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter(isObject)
    .map((part) => (part["type"] === "text" && typeof part["text"] === "string" ? part["text"] : `[${String(part["type"] ?? "content")}]`))
    .join("\n");
}

function isHunk(value: unknown): value is DiffHunk {
  return (
    isObject(value) &&
    ["oldStart", "oldLines", "newStart", "newLines"].every((key) => Number.isInteger(value[key])) &&
    Array.isArray(value["lines"]) &&
    value["lines"].every((line) => typeof line === "string")
  );
}

function todoStatus(value: unknown): TodoStatus {
  return value === "completed" || value === "in_progress" ? value : "pending";
}

const count = (value: unknown) => (typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0);

/** Tool input as the agent gave it, unless its JSON is too large to keep (then a summary). */
function boundedJson(value: unknown): unknown {
  const text = JSON.stringify(value ?? null);
  return text.length <= EVENT_LIMITS.inputJsonChars ? (value ?? null) : { truncated: true, preview: cut(text, 2000) };
}
