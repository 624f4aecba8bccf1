// The shapes of the agent-run API (docs/api.md, "Agent runs") as the chat reads them. The
// resources come from the server's OpenAPI document; a run event's payload is open-ended
// there (`type` plus fields), so its variants are spelled out here, as the server sends them.
import type { Schemas } from "../../api/client.ts";

export type Conversation = Schemas["Conversation"];
export type ConversationDetail = Schemas["ConversationDetail"];
export type Run = Schemas["Run"];
export type RunUsage = NonNullable<Run["usage"]>;
export type RunStatus = Run["status"];
export type Approval = Schemas["Approval"];

export type TodoItem = { text: string; status: "pending" | "in_progress" | "completed" };

export type RunEventPayload =
  | { type: "message_delta"; text: string }
  | { type: "message"; text: string }
  | { type: "thinking"; text: string }
  | { type: "tool_call"; toolCallId: string; name: string; input: unknown }
  | { type: "tool_result"; toolCallId: string; output: string; isError: boolean }
  | { type: "file_change"; path: string; diff: string; toolCallId?: string }
  | { type: "todo"; items: TodoItem[] }
  | { type: "plan"; text: string }
  | ({ type: "usage" } & RunUsage)
  | { type: "status"; status: RunStatus | "stalled"; reason?: string }
  | { type: "error"; code: string; message: string; hint?: string }
  | {
      type: "approval";
      approvalId: string;
      toolCallId?: string;
      tool: string;
      input: unknown;
      decision: "pending" | "allow" | "deny";
      message?: string;
    };

/** One event of a conversation's stream: `seq` counts across the conversation, `runSeq` within its run. */
export type RunEvent = RunEventPayload & { seq: number; runSeq: number; runId: string; at: string };

/** A run that has not ended: a new message waits for it. */
export const isActive = (status: string) => status === "queued" || status === "running" || status === "waiting";

export const AGENT_LABELS: Record<string, string> = {
  "claude-code": "Claude Code",
  codex: "Codex",
  gemini: "Gemini CLI",
  opencode: "OpenCode",
  custom: "Custom command",
};
