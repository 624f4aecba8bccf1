// A conversation's stream folded into what the chat shows, per run: text, thinking, tool
// cards with their results, file diffs, the to-do list, plans, errors and approvals, plus the
// run's live status and usage. Pure, so a replay from seq 0 and a live stream give the same
// picture; events at or below `lastSeq` were applied already (a reconnect may repeat none,
// but a resumed stream is checked anyway).
import type { RunEvent, RunStatus, RunUsage, TodoItem } from "./types.ts";

export type TranscriptItem =
  /** `streaming`: built from message_delta pieces so far; the `message` event replaces it. */
  | { kind: "text"; key: string; text: string; streaming: boolean }
  | { kind: "thinking"; key: string; text: string }
  | { kind: "tool"; key: string; toolCallId: string; name: string; input: unknown; result: { output: string; isError: boolean } | null }
  | { kind: "file"; key: string; path: string; diff: string }
  | { kind: "todo"; key: string; items: TodoItem[] }
  | { kind: "plan"; key: string; text: string }
  | { kind: "error"; key: string; code: string; message: string; hint?: string }
  | {
      kind: "approval";
      key: string;
      approvalId: string;
      tool: string;
      input: unknown;
      decision: "pending" | "allow" | "deny";
      message?: string;
    };

export interface RunTranscript {
  items: TranscriptItem[];
  /** The latest status event (stalled included, which the Run resource never shows). */
  status: { status: RunStatus | "stalled"; reason?: string } | null;
  usage: RunUsage | null;
}

export interface TranscriptState {
  lastSeq: number;
  runs: Readonly<Record<string, RunTranscript>>;
}

export const EMPTY_TRANSCRIPT: TranscriptState = { lastSeq: 0, runs: {} };
const EMPTY_RUN: RunTranscript = { items: [], status: null, usage: null };

export function applyEvents(state: TranscriptState, events: readonly RunEvent[]): TranscriptState {
  let lastSeq = state.lastSeq;
  const runs = { ...state.runs };
  for (const event of events) {
    if (event.seq <= lastSeq) continue;
    lastSeq = event.seq;
    runs[event.runId] = applyToRun(runs[event.runId] ?? EMPTY_RUN, event);
  }
  return lastSeq === state.lastSeq ? state : { lastSeq, runs };
}

function applyToRun(run: RunTranscript, event: RunEvent): RunTranscript {
  const key = String(event.seq);
  const items = run.items;
  switch (event.type) {
    case "message_delta": {
      const last = items.at(-1);
      if (last?.kind === "text" && last.streaming) return { ...run, items: [...items.slice(0, -1), { ...last, text: last.text + event.text }] };
      return { ...run, items: [...items, { kind: "text", key, text: event.text, streaming: true }] };
    }
    case "message": {
      // The whole text of a block whose pieces streamed before: it takes their place.
      const open = items.findIndex((item) => item.kind === "text" && item.streaming);
      if (open === -1) return { ...run, items: [...items, { kind: "text", key, text: event.text, streaming: false }] };
      const next = [...items];
      next[open] = { kind: "text", key: items[open]?.key ?? key, text: event.text, streaming: false };
      return { ...run, items: next };
    }
    case "thinking":
      return { ...run, items: [...items, { kind: "thinking", key, text: event.text }] };
    case "tool_call":
      return { ...run, items: [...items, { kind: "tool", key, toolCallId: event.toolCallId, name: event.name, input: event.input, result: null }] };
    case "tool_result": {
      const result = { output: event.output, isError: event.isError };
      let found = false;
      const next = items.map((item) => {
        if (item.kind !== "tool" || item.toolCallId !== event.toolCallId) return item;
        found = true;
        return { ...item, result };
      });
      // A result without its call (cut from the stream) still shows.
      if (!found) next.push({ kind: "tool", key, toolCallId: event.toolCallId, name: "tool", input: null, result });
      return { ...run, items: next };
    }
    case "file_change":
      return { ...run, items: [...items, { kind: "file", key, path: event.path, diff: event.diff }] };
    case "todo":
      // One list per run, shown where it was last written.
      return { ...run, items: [...items.filter((item) => item.kind !== "todo"), { kind: "todo", key, items: event.items }] };
    case "plan":
      return { ...run, items: [...items, { kind: "plan", key, text: event.text }] };
    case "error":
      return { ...run, items: [...items, { kind: "error", key, code: event.code, message: event.message, hint: event.hint }] };
    case "approval": {
      const approval = {
        kind: "approval" as const,
        approvalId: event.approvalId,
        tool: event.tool,
        input: event.input,
        decision: event.decision,
        message: event.message,
      };
      const at = items.findIndex((item) => item.kind === "approval" && item.approvalId === event.approvalId);
      if (at === -1) return { ...run, items: [...items, { ...approval, key }] };
      const next = [...items];
      next[at] = { ...approval, key: items[at]?.key ?? key };
      return { ...run, items: next };
    }
    case "usage": {
      const { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd } = event;
      return { ...run, usage: { inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd } };
    }
    case "status":
      return { ...run, status: { status: event.status, reason: event.reason } };
    default:
      // A type this UI does not know yet: nothing to show.
      return run;
  }
}
