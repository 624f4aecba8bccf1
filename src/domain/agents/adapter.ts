// One adapter per agent CLI: how to start it for one turn, and how to read what it prints.
// Pure (no I/O): the run service starts the command through the supervisor and feeds each
// stdout line to the parser; tests feed recorded transcripts.
import type { RunEventPayload } from "./events.ts";

export const AGENT_NAMES = ["claude-code", "codex", "gemini", "opencode", "custom"] as const;
export type AgentName = (typeof AGENT_NAMES)[number];

/** Where things are inside the sandbox; the run service fills it in. */
export interface AgentPaths {
  /** Install root of this agent's pinned version, e.g. /opt/agents/claude-code/2.1.332. */
  installDir: string;
  /** The agent's executable: installDir + install.bin with `{arch}` (x64, arm64) filled in. */
  executable: string;
  /** Node 22 that ships with Outpost (/opt/outpost/bin/node), for agents written in JS. */
  node: string;
  workspace: string;
  home: string;
}

export interface AgentLaunchInput {
  prompt: string;
  /** The agent's own session id from an earlier turn of this conversation, to resume. */
  sessionId: string | null;
  model: string | null;
  /** bypass: the sandbox is the boundary. approve: tool calls wait for a person's answer. */
  permissionMode: "bypass" | "approve";
  maxTurns: number | null;
  paths: AgentPaths;
  /** custom agent only: the command line (run by /bin/sh -c). */
  command?: string;
}

export interface AgentLaunch {
  command: string[];
  /** Added to the project's env for this process only. */
  env: Record<string, string>;
  /** Lines (without the newline) written to stdin once the process started. */
  stdin: string[];
  /** Close stdin after those lines (agents that read the prompt once); otherwise the run
   * service closes it when the parser reports `turn_end`. */
  closeStdin: boolean;
}

/** What a parser makes of one line: events to store, plus signals for the run service. */
export type AgentOutput =
  | { kind: "event"; event: RunEventPayload }
  /** The agent's session id, for `--resume`-style follow-ups. */
  | { kind: "session"; sessionId: string }
  /** The agent asks whether a tool may run (approve mode); answer with `answerApproval`. */
  | { kind: "approval_request"; requestId: string; tool: string; input: unknown; toolCallId?: string }
  /** The turn is over (the agent may still need stdin closed to exit). */
  | { kind: "turn_end"; outcome: "succeeded" | "failed"; reason?: string };

export interface AgentParser {
  /** One stdout line (without its newline). Lines that are not the agent's protocol give []. */
  line(text: string): AgentOutput[];
  /** The process exited; whatever the parser still holds (e.g. a final message). */
  end(exit: { exitCode: number | null; signal: string | null }): AgentOutput[];
}

export interface AgentAdapter {
  name: AgentName;
  /** The npm package and pinned version the platform installs; null for `custom`. */
  install: {
    package: string;
    version: string;
    /** The executable relative to installDir; `{arch}` stands for x64 or arm64 (platform packages). */
    bin: string;
    /** Run `bin` with Outpost's Node 22 (a JS entry point) rather than directly (a native binary). */
    viaNode: boolean;
  } | null;
  capabilities: { resume: boolean; approvals: boolean; interrupt: boolean; partialMessages: boolean };
  /** The usage a resumed turn reports counts the session's earlier turns too (Codex): the
   * run service subtracts what the conversation's earlier runs reported. */
  usageIsCumulative?: boolean;
  /** The project variables one of which the agent needs to reach its model (checked before a run starts). */
  credentials?: readonly string[];
  /** Where the agent reads user-level instructions, relative to $HOME (never the repo's own file). */
  instructionsFile: string | null;
  launch(input: AgentLaunchInput): AgentLaunch;
  parser(): AgentParser;
  /** A stdin line that interrupts the turn, when the agent has one (otherwise: signals). */
  interrupt?(requestId: string): string;
  /** A stdin line answering an approval request. */
  answerApproval?(requestId: string, answer: { allow: boolean; input: unknown; message?: string }): string;
}
