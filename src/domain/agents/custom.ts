// `custom`: any command a project names, for agents Outpost has no adapter for (or a script).
// It runs under /bin/sh -c in the workspace; the prompt arrives both in OUTPOST_PROMPT and on
// stdin (closed after it, so `read`/`cat` see its end). Every non-empty stdout line is one
// `message`; the exit code decides the outcome. No sessions, approvals or interrupts: a
// follow-up is a fresh process, a cancel is a signal.
import type { AgentAdapter, AgentLaunch, AgentLaunchInput, AgentParser } from "./adapter.ts";
import { cut, EVENT_LIMITS } from "./events.ts";

function launch(input: AgentLaunchInput): AgentLaunch {
  if (!input.command) throw new Error("The custom agent needs a command to run.");
  return {
    command: ["/bin/sh", "-c", input.command],
    env: { OUTPOST_PROMPT: input.prompt },
    stdin: input.prompt.split("\n"),
    closeStdin: true,
  };
}

function parser(): AgentParser {
  return {
    line(text) {
      const line = text.endsWith("\r") ? text.slice(0, -1) : text;
      if (line.trim() === "") return [];
      return [{ kind: "event", event: { type: "message", text: cut(line, EVENT_LIMITS.textChars) } }];
    },
    end(exit) {
      if (exit.exitCode === 0) return [{ kind: "turn_end", outcome: "succeeded" }];
      const reason = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      return [{ kind: "turn_end", outcome: "failed", reason }];
    },
  };
}

export const customAdapter: AgentAdapter = {
  name: "custom",
  install: null,
  capabilities: { resume: false, approvals: false, interrupt: false, partialMessages: false },
  instructionsFile: null,
  launch,
  parser,
};
