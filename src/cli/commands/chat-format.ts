// How `outpost chat` shows a run's events in a terminal: assistant text as it streams, one
// line per tool call and per result, file changes, approvals waiting for an answer, and a
// last line with the outcome. Pure (no I/O): the command writes what `format` returns, and
// the unit tests feed events without a server.
import type { RunUsage } from "../../domain/agents/events.ts";

/** One event as the run's SSE stream carries it: the type plus its payload's fields. */
export interface ChatEvent {
  seq?: number;
  runId?: string;
  type: string;
  [field: string]: unknown;
}

export interface ChatFormatOptions {
  /** Lines other than the assistant's own text are cut to this many characters. */
  width: number;
}

/** The input field that says what a tool call does, in the order agents name them. */
const MAIN_INPUT_KEYS = ["command", "file_path", "url", "pattern", "path", "query", "description"];

const TODO_MARKS: Record<string, string> = { pending: "[ ]", in_progress: "[~]", completed: "[x]" };

const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** `text` on one line (its first non-blank one), cut to `width` with an ellipsis. */
export function oneLine(text: string, width: number): string {
  const lines = text.split("\n").map((l) => l.trimEnd());
  const first = lines.find((l) => l.trim() !== "") ?? "";
  const more = lines.filter((l) => l.trim() !== "").length > 1;
  const line = more ? `${first} …` : first;
  if (line.length <= width) return line;
  return `${line.slice(0, Math.max(1, width - 1))}…`;
}

/** `Write /workspace/x`: the tool's name and the input a person would recognise it by. */
export function toolSummary(name: string, input: unknown): string {
  if (typeof input === "object" && input !== null) {
    const record = input as Record<string, unknown>;
    for (const key of MAIN_INPUT_KEYS) {
      if (typeof record[key] === "string" && record[key] !== "") return `${name} ${record[key]}`;
    }
  }
  return name;
}

const number = (n: number) => n.toLocaleString("en-US");

/** `succeeded · 1,200 in / 340 out tokens · $0.0123`, the chat's last line. */
export function finalLine(status: string, reason: string | null | undefined, usage: RunUsage | null | undefined): string {
  const mark = status === "succeeded" ? "✓" : status === "cancelled" ? "■" : "✗";
  const parts = [`${mark} ${status}${reason ? `: ${reason}` : ""}`];
  if (usage) {
    parts.push(`${number(usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens)} in / ${number(usage.outputTokens)} out tokens`);
    if (usage.costUsd !== null) parts.push(`$${usage.costUsd.toFixed(4)}`);
  }
  return parts.join(" · ");
}

export const TERMINAL_STATUSES = ["succeeded", "failed", "cancelled"];

/**
 * Turns events into terminal text, keeping what it needs across events: whether the
 * assistant's text is mid-line (a tool line must start on a line of its own), whether the
 * current message already streamed (its `message` repeats the pieces and is skipped), and
 * the last usage (for the final line).
 */
export class ChatFormatter {
  private midLine = false;
  /** Streamed text that no `message` has repeated yet. */
  private streamed = "";
  usage: RunUsage | null = null;
  /** The terminal status once it came, with its reason. */
  final: { status: string; reason?: string } | null = null;

  constructor(private readonly options: ChatFormatOptions) {}

  /** The text to write for one event (possibly ""). */
  format(event: ChatEvent): string {
    switch (event.type) {
      case "message_delta": {
        const text = str(event.text);
        if (text === "") return "";
        this.streamed += text;
        this.midLine = !text.endsWith("\n");
        return text;
      }
      case "message": {
        // The pieces were shown as they came; the full text would say it all again. (A
        // message that is not what streamed, e.g. cut with a marker, still was shown.)
        const text = str(event.text);
        if (this.streamed !== "") {
          this.streamed = this.streamed.startsWith(text) ? this.streamed.slice(text.length) : "";
          return this.streamed === "" ? this.endLine() : "";
        }
        return text === "" ? "" : `${this.lineBreak()}${text.replace(/\n*$/, "")}\n`;
      }
      case "thinking":
        return this.line(`· ${str(event.text).replace(/\s+/g, " ").trim()}`);
      case "tool_call":
        return this.line(`→ ${toolSummary(str(event.name), event.input)}`);
      case "tool_result": {
        const output = str(event.output);
        const mark = event.isError === true ? "✗" : "✓";
        return this.line(`  ${mark} ${output.trim() === "" ? "(no output)" : oneLine(output, this.options.width)}`);
      }
      case "file_change":
        return this.line(`± ${str(event.path)}`);
      case "todo": {
        const items = Array.isArray(event.items) ? (event.items as { text?: unknown; status?: unknown }[]) : [];
        return items.map((item) => this.line(`  ${TODO_MARKS[str(item.status)] ?? "[ ]"} ${str(item.text)}`)).join("");
      }
      case "plan":
        return `${this.lineBreak()}plan:\n${str(event.text).replace(/\n*$/, "")}\n`;
      case "usage":
        this.usage = {
          inputTokens: Number(event.inputTokens) || 0,
          outputTokens: Number(event.outputTokens) || 0,
          cacheReadTokens: Number(event.cacheReadTokens) || 0,
          cacheWriteTokens: Number(event.cacheWriteTokens) || 0,
          costUsd: typeof event.costUsd === "number" ? event.costUsd : null,
        };
        return "";
      case "approval":
        return this.approval(event);
      case "error":
        return `${this.line(`✗ ${str(event.message)} (${str(event.code)})`)}${event.hint ? this.line(`  hint: ${str(event.hint)}`) : ""}`;
      case "status":
        return this.status(event);
      default:
        return "";
    }
  }

  private approval(event: ChatEvent): string {
    const what = toolSummary(str(event.tool), event.input);
    if (event.decision === "pending") {
      const answer = `outpost approve ${str(event.runId) || "<run>"} ${str(event.approvalId)} allow|deny`;
      // The command to answer with is never cut: it is what the reader copies.
      return this.line(`? approval needed: ${oneLine(what, this.options.width)} — answer with: ${answer}`, false);
    }
    const verdict = event.decision === "allow" ? "allowed" : "denied";
    return this.line(`  ${verdict}${event.message ? `: ${str(event.message)}` : ""}`);
  }

  private status(event: ChatEvent): string {
    const status = str(event.status);
    const reason = event.reason === undefined ? undefined : str(event.reason);
    if (TERMINAL_STATUSES.includes(status)) {
      this.final = { status, reason };
      return this.endLine();
    }
    if (status === "stalled") return this.line(`! stalled${reason ? `: ${reason}` : ""}`);
    return "";
  }

  /** The last line, once the final status came (usage from the run when given, it is the total). */
  summary(usage?: RunUsage | null, reason?: string | null): string {
    if (!this.final) return "";
    return this.line(finalLine(this.final.status, reason ?? this.final.reason, usage ?? this.usage));
  }

  /** A line of its own, cut to the width. */
  private line(text: string, cutToWidth = true): string {
    const shown = cutToWidth ? oneLine(text, this.options.width) : text;
    return `${this.lineBreak()}${shown}\n`;
  }

  /** A newline when the assistant's text stopped mid-line. */
  private lineBreak(): string {
    if (!this.midLine) return "";
    this.midLine = false;
    return "\n";
  }

  private endLine(): string {
    return this.lineBreak();
  }
}
