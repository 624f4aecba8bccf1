// OpenAI's Codex CLI, run as `codex exec --json`: one process per turn, the prompt read from
// stdin (`-`, so a long prompt never meets argv limits), events printed as JSON lines
// (thread.started, item.started/completed, turn.completed/failed). A follow-up is
// `codex exec resume <thread id>`; the thread lives in ~/.codex/sessions of the sandbox's home.
//
// Codex 0.171 ignores OPENAI_BASE_URL, so the model gateway is configured as a model
// provider of its own with `-c` flags (no config file to write): plain HTTP Responses API,
// key from OPENAI_API_KEY (the gateway's placeholder). A custom provider also keeps Codex
// from trying OpenAI's WebSocket transport, which the gateway does not carry.
// Codex's own sandbox is off (`--dangerously-bypass-approvals-and-sandbox`): Outpost's
// sandbox is the boundary, and nested user namespaces are not allowed in it. `exec` has no
// way to ask a person before a tool runs, so this adapter offers no approvals.
import type { AgentAdapter, AgentLaunch, AgentLaunchInput, AgentOutput, AgentParser } from "./adapter.ts";
import { cut, EVENT_LIMITS, type RunEventPayload, type TodoStatus } from "./events.ts";
import { boundedId, boundedJson, isObject, parseJsonObject, stringField, tokenCount } from "./json-values.ts";

export const CODEX_VERSION = "0.171.0";

/** Where the model gateway serves OpenAI's API inside a sandbox. */
export const GATEWAY_OPENAI_BASE_URL = "http://127.0.0.1:3129/openai/v1";

export function createCodexAdapter(options: { openaiBaseUrl?: string } = {}): AgentAdapter {
  const baseUrl = options.openaiBaseUrl ?? GATEWAY_OPENAI_BASE_URL;
  return {
    name: "codex",
    install: {
      package: "@openai/codex",
      version: CODEX_VERSION,
      // The npm entry point finds the native binary of this platform (its folder names the
      // target triple, which `{arch}` cannot spell) and execs it, so signals reach Codex.
      bin: "node_modules/@openai/codex/bin/codex.js",
      viaNode: true,
    },
    capabilities: { resume: true, approvals: false, interrupt: false, partialMessages: false },
    usageIsCumulative: true,
    credentials: ["OPENAI_API_KEY"],
    instructionsFile: ".codex/AGENTS.md",
    launch: (input) => launch(input, baseUrl),
    parser,
  };
}

export const codexAdapter: AgentAdapter = createCodexAdapter();

function launch(input: AgentLaunchInput, baseUrl: string): AgentLaunch {
  const command = [input.paths.executable, "exec"];
  if (input.sessionId) command.push("resume", input.sessionId);
  command.push("--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox");
  if (input.model) command.push("--model", input.model);
  const provider = `{name="Outpost model gateway",base_url=${tomlString(baseUrl)},env_key="OPENAI_API_KEY",wire_api="responses"}`;
  command.push("-c", 'model_provider="outpost"', "-c", `model_providers.outpost=${provider}`);
  // Nothing leaves the sandbox but model calls (the egress proxy would refuse the rest anyway).
  command.push("-c", "analytics.enabled=false", "-c", "check_for_update_on_startup=false");
  command.push("-");
  return {
    command,
    // No CODEX_HOME: Codex refuses one that does not exist yet, and creates ~/.codex itself.
    env: {},
    stdin: input.prompt.split("\n"),
    closeStdin: true,
  };
}

function parser(): AgentParser {
  const started = new Set<string>();
  let ended = false;
  /** The last error Codex printed, for the reason of a turn that ends without `turn.failed`. */
  let lastError = "";
  return {
    line(text) {
      const value = parseJsonObject(text);
      if (!value) return [];
      switch (value["type"]) {
        case "thread.started": {
          const sessionId = boundedId(value["thread_id"]);
          return sessionId ? [{ kind: "session", sessionId }] : [];
        }
        case "item.started":
        case "item.updated":
        case "item.completed":
          return item(value["item"], value["type"], started);
        case "turn.completed":
          ended = true;
          return [
            { kind: "event", event: usage(value["usage"]) },
            { kind: "turn_end", outcome: "succeeded" },
          ];
        case "turn.failed": {
          ended = true;
          const message = cut(errorMessage(value["error"]) || lastError || "Codex reported a failed turn", 2000);
          return [
            { kind: "event", event: { type: "error", code: "AGENT_ERROR", message } },
            { kind: "turn_end", outcome: "failed", reason: message },
          ];
        }
        case "error": {
          // Codex prints its retries ("Reconnecting... 2/5 (…)") as errors; those are worth
          // showing. Any other error is repeated by the turn.failed that follows it.
          const message = cut(stringField(value, "message"), 2000);
          if (message.startsWith("Reconnecting")) return [warning(message)];
          lastError = message;
          return [];
        }
        default:
          return [];
      }
    },
    end(exit) {
      if (ended) return [];
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      const reason = `Codex ${how} before it finished the turn${lastError ? `: ${lastError}` : ""}`;
      return [{ kind: "turn_end", outcome: "failed", reason: cut(reason, 2000) }];
    },
  };
}

/** One thread item: tool calls when they start, their results and changes when they finish. */
function item(value: unknown, phase: string, started: Set<string>): AgentOutput[] {
  if (!isObject(value)) return [];
  const id = boundedId(value["id"]);
  const type = value["type"];
  if (type === "agent_message" && phase === "item.completed")
    return [event({ type: "message", text: cut(stringField(value, "text"), EVENT_LIMITS.textChars) })];
  if (type === "reasoning" && phase === "item.completed") {
    const text = stringField(value, "text");
    return text ? [event({ type: "thinking", text: cut(text, EVENT_LIMITS.textChars) })] : [];
  }
  if (type === "todo_list") return [event({ type: "todo", items: todoItems(value["items"]) })];
  if (type === "error" && phase === "item.completed") return [warning(cut(stringField(value, "message"), 2000))];
  if (!id) return [];
  const call = toolCall(type, value);
  if (!call) return [];
  const out: AgentOutput[] = [];
  // A call is shown once, when it starts; one that only ever completes (e.g. refused before
  // it ran) is shown then.
  if (!started.has(id)) {
    started.add(id);
    out.push(event({ type: "tool_call", toolCallId: id, name: call.name, input: boundedJson(call.input) }));
  }
  if (phase !== "item.completed") return out;
  if (type === "file_change" && value["status"] === "completed") {
    // `codex exec --json` names the changed files but not the patch: no diff to show.
    for (const change of Array.isArray(value["changes"]) ? value["changes"].filter(isObject) : []) {
      const path = stringField(change, "path");
      if (path) out.push(event({ type: "file_change", path: cut(path, 4096), diff: "", toolCallId: id }));
    }
  }
  out.push(event({ type: "tool_result", toolCallId: id, ...call.result() }));
  return out;
}

interface CodexToolCall {
  name: string;
  input: unknown;
  result(): { output: string; isError: boolean };
}

function toolCall(type: unknown, value: Record<string, unknown>): CodexToolCall | null {
  const failed = value["status"] === "failed" || value["status"] === "declined";
  switch (type) {
    case "command_execution":
      return {
        name: "shell",
        input: { command: stringField(value, "command") },
        result: () => {
          const exitCode = value["exit_code"];
          return {
            output: cut(stringField(value, "aggregated_output"), EVENT_LIMITS.toolOutputChars),
            isError: failed || (typeof exitCode === "number" && exitCode !== 0),
          };
        },
      };
    case "file_change":
      return {
        name: "apply_patch",
        input: { changes: value["changes"] },
        result: () => ({ output: failed ? "The patch was not applied." : "Patch applied.", isError: failed }),
      };
    case "mcp_tool_call":
      return {
        name: `${stringField(value, "server")}.${stringField(value, "tool")}`,
        input: value["arguments"] ?? null,
        result: () => {
          const error = isObject(value["error"]) ? stringField(value["error"], "message") : "";
          const output = error || JSON.stringify(value["result"] ?? null);
          return { output: cut(output, EVENT_LIMITS.toolOutputChars), isError: failed || error !== "" };
        },
      };
    case "web_search":
      return { name: "web_search", input: { query: stringField(value, "query") }, result: () => ({ output: "", isError: failed }) };
    default:
      return null;
  }
}

function todoItems(value: unknown): { text: string; status: TodoStatus }[] {
  if (!Array.isArray(value)) return [];
  const items = value.filter(isObject).slice(0, EVENT_LIMITS.todoItems);
  // Codex only says done or not; the first open item is the one being worked on.
  const firstOpen = items.findIndex((todo) => todo["completed"] !== true);
  return items.map((todo, index) => ({
    text: cut(stringField(todo, "text"), 1000),
    status: todo["completed"] === true ? "completed" : index === firstOpen ? "in_progress" : "pending",
  }));
}

/** `turn.completed` usage. Codex reports no cost; `input_tokens` includes the cached ones.
 * On a resumed thread Codex 0.171 reports the whole thread's totals, not this turn's. */
function usage(value: unknown): RunEventPayload {
  const record = isObject(value) ? value : {};
  const cached = tokenCount(record["cached_input_tokens"]);
  return {
    type: "usage",
    inputTokens: Math.max(0, tokenCount(record["input_tokens"]) - cached),
    outputTokens: tokenCount(record["output_tokens"]),
    cacheReadTokens: cached,
    cacheWriteTokens: tokenCount(record["cache_write_input_tokens"]),
    costUsd: null,
  };
}

function errorMessage(value: unknown): string {
  return isObject(value) ? stringField(value, "message") : "";
}

function warning(message: string): AgentOutput {
  return event({ type: "error", code: "AGENT_WARNING", message });
}

function event(payload: RunEventPayload): AgentOutput {
  return { kind: "event", event: payload };
}

/** A TOML basic string: `-c` values are parsed as TOML. */
function tomlString(text: string): string {
  return JSON.stringify(text);
}
