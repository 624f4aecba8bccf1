// OpenCode (sst/opencode), run headless as `opencode run --format json`: one process per turn,
// the prompt read from stdin (with no message in argv, `run` takes stdin to EOF as the
// message, so a long prompt never meets argv limits), events printed as JSON lines
// (step_start, text, reasoning, tool_use, step_finish, error). A follow-up is `-s <sessionID>`;
// sessions live in the sqlite database under ~/.local/share/opencode of the sandbox's home.
//
// OpenCode is told about the model gateway through OPENCODE_CONFIG_CONTENT (no config file to
// write): the built-in `openai` provider with the gateway as its base URL and the key read
// from OPENAI_API_KEY (the gateway's placeholder). Only that provider is enabled, so OpenCode
// never picks its own hosted models, and the chosen model is declared in the config, so a
// slug missing from OpenCode's bundled catalog still runs (the catalog is not fetched: the
// sandbox cannot reach models.dev). `--title` spares a model call that would only name the
// session. `--thinking` adds the model's reasoning to the stream.
//
// The turn's end is not in the stream: `run` exits when the session goes idle, with code 1
// when it printed an error. So the outcome is decided when the process exits.
// `run` cannot ask a person: a permission OpenCode would ask for is refused, unless `--auto`
// allows it (bypass mode: the sandbox is the boundary). So this adapter offers no approvals.
import type { AgentAdapter, AgentLaunch, AgentLaunchInput, AgentOutput, AgentParser } from "./adapter.ts";
import { GATEWAY_OPENAI_BASE_URL } from "./codex.ts";
import { newFileDiff } from "./diff.ts";
import { cut, EVENT_LIMITS, type RunEventPayload, type RunUsage, type TodoStatus } from "./events.ts";
import { boundedId, boundedJson, isObject, parseJsonObject, stringField, tokenCount } from "./json-values.ts";

export const OPENCODE_VERSION = "1.18.33";

/** The model when the run names none: OpenCode's own default would be one of its hosted models. */
export const OPENCODE_DEFAULT_MODEL = "gpt-5.5";

export function createOpencodeAdapter(options: { openaiBaseUrl?: string } = {}): AgentAdapter {
  const baseUrl = options.openaiBaseUrl ?? GATEWAY_OPENAI_BASE_URL;
  return {
    name: "opencode",
    install: {
      package: "opencode-ai",
      version: OPENCODE_VERSION,
      // The platform package's native (Bun-compiled) binary; the `opencode-ai` wrapper only
      // finds it, through an install script the installer does not run.
      bin: "node_modules/opencode-linux-{arch}/bin/opencode",
      viaNode: false,
    },
    capabilities: { resume: true, approvals: false, interrupt: false, partialMessages: false },
    credentials: ["OPENAI_API_KEY"],
    // OpenCode's global rules file (the repo's own AGENTS.md stays the project's).
    instructionsFile: ".config/opencode/AGENTS.md",
    launch: (input) => launch(input, baseUrl),
    parser,
  };
}

export const opencodeAdapter: AgentAdapter = createOpencodeAdapter();

function launch(input: AgentLaunchInput, baseUrl: string): AgentLaunch {
  const model = (input.model ?? OPENCODE_DEFAULT_MODEL).replace(/^openai\//, "");
  const command = [input.paths.executable, "run", "--format", "json", "--thinking", "-m", `openai/${model}`, `--title=${title(input.prompt)}`];
  if (input.sessionId) command.push("-s", input.sessionId);
  if (input.permissionMode === "bypass") command.push("--auto");
  const config = {
    autoupdate: false,
    share: "disabled",
    enabled_providers: ["openai"],
    provider: { openai: { options: { baseURL: baseUrl, apiKey: "{env:OPENAI_API_KEY}" }, models: { [model]: {} } } },
  };
  return {
    command,
    env: {
      OPENCODE_CONFIG_CONTENT: JSON.stringify(config),
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
    },
    stdin: input.prompt.split("\n"),
    closeStdin: true,
  };
}

/** The session's name in OpenCode's own list: the prompt's first line. */
function title(prompt: string): string {
  const first = prompt.trim().split("\n")[0]?.trim() ?? "";
  return first.slice(0, 100) || "Outpost run";
}

function parser(): AgentParser {
  let sessionSeen = false;
  /** The turn's usage so far: OpenCode reports each step (model call) on its own. */
  const total: RunUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: null };
  /** The last error OpenCode printed: the reason the turn failed. */
  let lastError = "";
  return {
    line(text) {
      const value = parseJsonObject(text);
      if (!value) return [];
      const out: AgentOutput[] = [];
      const sessionId = boundedId(value["sessionID"]);
      if (sessionId && !sessionSeen) {
        sessionSeen = true;
        out.push({ kind: "session", sessionId });
      }
      const part = isObject(value["part"]) ? value["part"] : {};
      switch (value["type"]) {
        case "text": {
          const message = stringField(part, "text");
          if (message) out.push(event({ type: "message", text: cut(message, EVENT_LIMITS.textChars) }));
          break;
        }
        case "reasoning": {
          const thought = stringField(part, "text");
          if (thought) out.push(event({ type: "thinking", text: cut(thought, EVENT_LIMITS.textChars) }));
          break;
        }
        case "tool_use":
          out.push(...toolUse(part));
          break;
        case "step_finish":
          addStep(total, part);
          // The running total: the last one stored is the turn's, and a cost limit can act
          // while the turn is still going.
          out.push(event({ type: "usage", ...total }));
          break;
        case "error":
          lastError = cut(errorMessage(value["error"]) || "OpenCode reported an error", 2000);
          out.push(event({ type: "error", code: "AGENT_ERROR", message: lastError }));
          break;
      }
      return out;
    },
    end(exit) {
      if (exit.exitCode === 0 && !lastError) return [{ kind: "turn_end", outcome: "succeeded" }];
      if (lastError) return [{ kind: "turn_end", outcome: "failed", reason: lastError }];
      const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      return [{ kind: "turn_end", outcome: "failed", reason: `OpenCode ${how} before it finished the turn` }];
    },
  };
}

/** A finished tool call (`run` prints each once, when it completed or failed): the call, the
 * change it made to a file, its result. */
function toolUse(part: Record<string, unknown>): AgentOutput[] {
  const id = boundedId(part["callID"]);
  const state = isObject(part["state"]) ? part["state"] : null;
  if (!id || !state) return [];
  const name = stringField(part, "tool").slice(0, 200) || "unknown";
  const input = isObject(state["input"]) ? state["input"] : {};
  const metadata = isObject(state["metadata"]) ? state["metadata"] : {};
  const failed = state["status"] === "error";
  const out = [event({ type: "tool_call", toolCallId: id, name, input: boundedJson(input) })];
  if (name === "todowrite" && Array.isArray(input["todos"])) out.push(event({ type: "todo", items: todoItems(input["todos"]) }));
  if (!failed) for (const change of fileChanges(name, input, metadata)) out.push(event({ ...change, toolCallId: id }));
  const exit = metadata["exit"];
  const output = failed ? stringField(state, "error") : stringField(state, "output");
  out.push(
    event({
      type: "tool_result",
      toolCallId: id,
      output: cut(output, EVENT_LIMITS.toolOutputChars),
      isError: failed || (typeof exit === "number" && exit !== 0),
    }),
  );
  return out;
}

type FileChange = { type: "file_change"; path: string; diff: string };

/** What OpenCode's file tools report: apply_patch a diff per file, edit one diff, write the
 * new content (a diff only when the file is new: the old content is not in the stream). */
function fileChanges(tool: string, input: Record<string, unknown>, metadata: Record<string, unknown>): FileChange[] {
  if (tool === "apply_patch" && Array.isArray(metadata["files"])) {
    return metadata["files"].filter(isObject).flatMap((file) => {
      const path = stringField(file, "filePath");
      return path ? [change(path, cleanDiff(stringField(file, "patch"), file["type"]))] : [];
    });
  }
  const path = stringField(input, "filePath");
  if (!path) return [];
  if (tool === "edit") return [change(path, cleanDiff(stringField(metadata, "diff"), "update"))];
  if (tool === "write") return [change(path, metadata["exists"] === false ? newFileDiff(path, stringField(input, "content")) : "")];
  return [];
}

function change(path: string, diff: string): FileChange {
  return { type: "file_change", path: cut(path, 4096), diff: cut(diff, EVENT_LIMITS.diffChars) };
}

/** OpenCode's patches start with `Index:` and a rule, and name the file on both sides even
 * when it was created or deleted; this makes them look like every other agent's diffs. */
function cleanDiff(patch: string, kind: unknown): string {
  const lines = patch.split("\n");
  while (lines.length > 0 && !lines[0]!.startsWith("--- ")) lines.shift();
  if (lines.length < 2) return "";
  if (kind === "add") lines[0] = "--- /dev/null";
  if (kind === "delete") lines[1] = "+++ /dev/null";
  return `${lines.join("\n").replace(/\n+$/, "")}\n`;
}

function todoItems(todos: unknown[]): { text: string; status: TodoStatus }[] {
  return todos
    .filter(isObject)
    .slice(0, EVENT_LIMITS.todoItems)
    .map((todo) => {
      const status = todo["status"];
      const text = cut(stringField(todo, "content"), 1000);
      // A cancelled item is no longer to be done; its text says why it is off the list.
      if (status === "cancelled") return { text: `${text} (cancelled)`, status: "completed" };
      return { text, status: status === "in_progress" || status === "completed" ? status : "pending" };
    });
}

/** One step's tokens and cost, added to the turn's. OpenCode counts cached tokens apart from
 * `input`, and reasoning apart from `output` (the model bills it as output). */
function addStep(total: RunUsage, part: Record<string, unknown>): void {
  const tokens = isObject(part["tokens"]) ? part["tokens"] : {};
  const cache = isObject(tokens["cache"]) ? tokens["cache"] : {};
  total.inputTokens += tokenCount(tokens["input"]);
  total.outputTokens += tokenCount(tokens["output"]) + tokenCount(tokens["reasoning"]);
  total.cacheReadTokens += tokenCount(cache["read"]);
  total.cacheWriteTokens += tokenCount(cache["write"]);
  const cost = part["cost"];
  // Rounded to a billionth of a dollar, so that adding steps does not show float noise.
  if (typeof cost === "number" && Number.isFinite(cost) && cost >= 0) total.costUsd = Math.round(((total.costUsd ?? 0) + cost) * 1e9) / 1e9;
}

/** `{name, data: {message}}`, as OpenCode serializes its errors. */
function errorMessage(value: unknown): string {
  if (!isObject(value)) return "";
  const data = isObject(value["data"]) ? value["data"] : {};
  return stringField(data, "message") || stringField(value, "message") || stringField(value, "name");
}

function event(payload: RunEventPayload): AgentOutput {
  return { kind: "event", event: payload };
}
