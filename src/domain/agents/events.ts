// The normalized events of an agent run: what every agent CLI's output becomes, whatever
// its own format. These are the `event:` names of a run's SSE stream (docs/api.md) and the
// `type` column of run_events. Payloads are plain JSON; sizes are bounded by the adapters
// (see limits below), because everything here came out of a sandbox.

export const RUN_STATUSES = ["queued", "running", "waiting", "succeeded", "failed", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];

export type TodoStatus = "pending" | "in_progress" | "completed";

export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** As the agent reports it; null when it does not (the gateway's metering is separate). */
  costUsd: number | null;
}

export type RunEventPayload =
  | { type: "message_delta"; text: string }
  | { type: "message"; text: string }
  | { type: "thinking"; text: string }
  | { type: "tool_call"; toolCallId: string; name: string; input: unknown }
  | { type: "tool_result"; toolCallId: string; output: string; isError: boolean }
  | { type: "file_change"; path: string; diff: string; toolCallId?: string }
  | { type: "todo"; items: { text: string; status: TodoStatus }[] }
  | { type: "plan"; text: string }
  | ({ type: "usage" } & RunUsage)
  | { type: "status"; status: RunStatus | "stalled"; reason?: string }
  | { type: "error"; code: string; message: string; hint?: string }
  | { type: "approval"; approvalId: string; toolCallId?: string; tool: string; input: unknown; decision: "pending" | "allow" | "deny"; message?: string };

export type RunEventType = RunEventPayload["type"];

/** Bounds on what an adapter puts into one event (the rest is cut with a marker). */
export const EVENT_LIMITS = {
  textChars: 256 * 1024,
  toolOutputChars: 64 * 1024,
  diffChars: 256 * 1024,
  inputJsonChars: 64 * 1024,
  todoItems: 200,
} as const;

export const CUT_MARKER = "\n… [cut by Outpost]";

/** `text` cut to `max` characters, with a visible marker when something was dropped. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max) + CUT_MARKER;
}
