// Google's Gemini CLI, run headless as `gemini -p "" --output-format stream-json`: one process
// per turn, the prompt on stdin (`-p` appends its own text to stdin's, and "" adds nothing),
// JSON lines out (init, message deltas, tool_use/tool_result, result). A follow-up is
// `--resume <session_id>`; sessions live under ~/.gemini of the sandbox's home.
//
// Gemini CLI 0.61 sends model calls to GOOGLE_GEMINI_BASE_URL, but in headless mode it also
// takes that variable to mean its "gateway" sign-in, which it then refuses ("Invalid auth
// method selected"). Naming the API-key sign-in in ~/.gemini/settings.json avoids that; the
// CLI has no flag or variable for it, so the command is wrapped in /bin/sh, which writes
// that file when the home has none. (That is also why the adapter runs Node itself rather
// than `viaNode`.) GEMINI_CLI_NO_RELAUNCH keeps the CLI from re-spawning itself with more
// heap, so signals reach the process that does the work.
// The key is the project's GEMINI_API_KEY credential: the sandbox holds its placeholder,
// which the CLI sends as x-goog-api-key and the gateway's /gemini route swaps for the value.
// (The adapter must not set GEMINI_API_KEY itself: its env wins over the project's.)
// Headless Gemini cannot ask a person before a tool runs: tools run in yolo mode.
import type { AgentAdapter, AgentLaunch, AgentLaunchInput, AgentOutput, AgentParser } from "./adapter.ts";
import { newFileDiff } from "./diff.ts";
import { cut, EVENT_LIMITS, type RunEventPayload, type TodoStatus } from "./events.ts";
import { boundedId, boundedJson, isObject, parseJsonObject, stringField, tokenCount } from "./json-values.ts";

export const GEMINI_CLI_VERSION = "0.61.0";

/** Where the model gateway serves Google's Gemini API inside a sandbox. */
export const GATEWAY_GEMINI_BASE_URL = "http://127.0.0.1:3129/gemini";

/** Sign in with an API key (the gateway swaps the placeholder); nothing else leaves the sandbox. */
const SETTINGS = {
  security: { auth: { selectedType: "gemini-api-key" } },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  general: { disableAutoUpdate: true, disableUpdateNag: true },
};

/** Writes the settings file unless the home already has one, then runs the CLI ("$@"). */
const WRAPPER =
  'settings="$HOME/.gemini/settings.json"; [ -e "$settings" ] || { mkdir -p "$HOME/.gemini" && printf \'%s\\n\' "$OUTPOST_GEMINI_SETTINGS" > "$settings"; } || exit 1; exec "$@"';

export function createGeminiAdapter(options: { geminiBaseUrl?: string } = {}): AgentAdapter {
  const baseUrl = options.geminiBaseUrl ?? GATEWAY_GEMINI_BASE_URL;
  return {
    name: "gemini",
    install: { package: "@google/gemini-cli", version: GEMINI_CLI_VERSION, bin: "node_modules/@google/gemini-cli/bundle/gemini.js", viaNode: false },
    capabilities: { resume: true, approvals: false, interrupt: false, partialMessages: true },
    credentials: ["GEMINI_API_KEY"],
    instructionsFile: ".gemini/GEMINI.md",
    launch: (input) => launch(input, baseUrl),
    parser,
  };
}

export const geminiAdapter: AgentAdapter = createGeminiAdapter();

function launch(input: AgentLaunchInput, baseUrl: string): AgentLaunch {
  const gemini = [input.paths.node, input.paths.executable, "-p", "", "--output-format", "stream-json", "--approval-mode", "yolo", "--skip-trust"];
  if (input.model) gemini.push("--model", input.model);
  if (input.sessionId) gemini.push("--resume", input.sessionId);
  return {
    command: ["/bin/sh", "-c", WRAPPER, "gemini", ...gemini],
    env: {
      GOOGLE_GEMINI_BASE_URL: baseUrl,
      GEMINI_CLI_NO_RELAUNCH: "1",
      OUTPOST_GEMINI_SETTINGS: JSON.stringify(SETTINGS),
    },
    stdin: input.prompt.split("\n"),
    closeStdin: true,
  };
}

function parser(): AgentParser {
  /** Text streamed since the last whole message: shown as one `message` when it ends. */
  let streamed = "";
  let ended = false;
  const calls = new Map<string, { name: string; input: Record<string, unknown> }>();

  const flush = (): AgentOutput[] => {
    if (streamed === "") return [];
    const text = streamed;
    streamed = "";
    return [event({ type: "message", text: cut(text, EVENT_LIMITS.textChars) })];
  };

  return {
    line(text) {
      const value = parseJsonObject(text);
      if (!value) return [];
      switch (value["type"]) {
        case "init": {
          const sessionId = boundedId(value["session_id"]);
          return sessionId ? [{ kind: "session", sessionId }] : [];
        }
        case "message": {
          if (value["role"] !== "assistant") return [];
          const content = stringField(value, "content");
          if (value["delta"] !== true) return [...flush(), event({ type: "message", text: cut(content, EVENT_LIMITS.textChars) })];
          // Bounded like the events it becomes: what is past the limit is not kept.
          if (streamed.length < EVENT_LIMITS.textChars) streamed += content;
          return content ? [event({ type: "message_delta", text: cut(content, EVENT_LIMITS.textChars) })] : [];
        }
        case "tool_use":
          return [...flush(), ...toolUse(value, calls)];
        case "tool_result":
          return [...flush(), ...toolResult(value, calls)];
        case "error":
          return [...flush(), event({ type: "error", code: "AGENT_WARNING", message: cut(stringField(value, "message"), 2000) })];
        case "result":
          ended = true;
          return [...flush(), ...result(value)];
        default:
          return [];
      }
    },
    end(exit) {
      const out = flush();
      if (ended) return out;
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      return [...out, { kind: "turn_end", outcome: "failed", reason: `Gemini CLI ${how} before it finished the turn` }];
    },
  };
}

function toolUse(value: Record<string, unknown>, calls: Map<string, { name: string; input: Record<string, unknown> }>): AgentOutput[] {
  const id = boundedId(value["tool_id"]);
  if (!id) return [];
  const name = stringField(value, "tool_name").slice(0, 200) || "unknown";
  const input = isObject(value["parameters"]) ? value["parameters"] : {};
  calls.set(id, { name, input });
  const out = [event({ type: "tool_call", toolCallId: id, name, input: boundedJson(input) })];
  if (name === "write_todos" && Array.isArray(input["todos"])) {
    const items = input["todos"]
      .filter(isObject)
      .slice(0, EVENT_LIMITS.todoItems)
      .map((todo) => ({ text: cut(stringField(todo, "description"), 1000), status: todoStatus(todo["status"]) }));
    out.push(event({ type: "todo", items }));
  }
  return out;
}

function toolResult(value: Record<string, unknown>, calls: Map<string, { name: string; input: Record<string, unknown> }>): AgentOutput[] {
  const id = boundedId(value["tool_id"]);
  if (!id) return [];
  const failed = value["status"] !== "success";
  const error = isObject(value["error"]) ? stringField(value["error"], "message") : "";
  const output = cut(stringField(value, "output") || error, EVENT_LIMITS.toolOutputChars);
  const out = [event({ type: "tool_result", toolCallId: id, output, isError: failed })];
  const call = calls.get(id);
  calls.delete(id);
  const change = call && !failed ? fileChange(call.name, call.input) : null;
  if (change) out.push(event({ type: "file_change", ...change, toolCallId: id }));
  return out;
}

/** The stream names the edit but does not show it: write_file's content is the whole new
 * file; `replace` gives only the strings, without the line numbers a diff needs. */
function fileChange(tool: string, input: Record<string, unknown>): { path: string; diff: string } | null {
  const path = stringField(input, "file_path");
  if (!path) return null;
  if (tool === "write_file") return { path, diff: cut(newFileDiff(path, stringField(input, "content")), EVENT_LIMITS.diffChars) };
  if (tool === "replace") return { path, diff: "" };
  return null;
}

function result(value: Record<string, unknown>): AgentOutput[] {
  const stats = isObject(value["stats"]) ? value["stats"] : {};
  const cached = tokenCount(stats["cached"]);
  const usage: RunEventPayload = {
    type: "usage",
    // `input_tokens` counts the cached ones too; `input` does not.
    inputTokens: Math.max(0, tokenCount(stats["input_tokens"]) - cached),
    outputTokens: tokenCount(stats["output_tokens"]),
    cacheReadTokens: cached,
    cacheWriteTokens: 0,
    costUsd: null,
  };
  if (value["status"] === "success") return [event(usage), { kind: "turn_end", outcome: "succeeded" }];
  const message = cut((isObject(value["error"]) ? stringField(value["error"], "message") : "") || "Gemini CLI reported an error", 2000);
  return [event(usage), event({ type: "error", code: "AGENT_ERROR", message }), { kind: "turn_end", outcome: "failed", reason: message }];
}

function todoStatus(value: unknown): TodoStatus {
  return value === "completed" || value === "in_progress" ? value : "pending";
}

function event(payload: RunEventPayload): AgentOutput {
  return { kind: "event", event: payload };
}
