// `secret` values out of command output, before the control plane streams or keeps it
// (domain/redaction.ts does the matching). Exec output is redacted as a stream per
// stdout/stderr, so a value split across chunks is still caught; the held tail goes out
// before the exit event. Process logs are redacted record by record, because a record's seq
// is its resume point: a value split across two records passes (docs/api.md says so).
import { createRedactor, type Redactor } from "../domain/redaction.ts";
import type { ExecChunk } from "../supervisor/client.ts";
import type { ExecEvent, LogExitLine, LogRecord } from "../supervisor/protocol.ts";

export function redactorFor(secrets: readonly { name: string; value: string }[]): Redactor | null {
  const redactor = createRedactor(secrets);
  return redactor.active ? redactor : null;
}

/** Exec events whose output is base64 text. */
export async function* redactExecEvents(events: AsyncIterable<ExecEvent>, redactor: Redactor): AsyncGenerator<ExecEvent> {
  const streams = { stdout: redactor.stream(), stderr: redactor.stream() };
  for await (const event of events) {
    if (event.type === "stdout" || event.type === "stderr") {
      const out = streams[event.type].push(Buffer.from(event.data, "base64"));
      if (out.length) yield { type: event.type, data: Buffer.from(out).toString("base64") };
      continue;
    }
    if (event.type === "exit") {
      for (const type of ["stdout", "stderr"] as const) {
        const rest = streams[type].flush();
        if (rest.length) yield { type, data: Buffer.from(rest).toString("base64") };
      }
    }
    yield event;
  }
}

/** Exec events whose output is bytes (framed exec). */
export async function* redactExecChunks(events: AsyncIterable<ExecChunk>, redactor: Redactor): AsyncGenerator<ExecChunk> {
  const streams = { stdout: redactor.stream(), stderr: redactor.stream() };
  for await (const event of events) {
    if (event.type === "stdout" || event.type === "stderr") {
      const out = streams[event.type].push(event.data);
      if (out.length) yield { type: event.type, data: Buffer.from(out) };
      continue;
    }
    if (event.type === "exit") {
      for (const type of ["stdout", "stderr"] as const) {
        const rest = streams[type].flush();
        if (rest.length) yield { type, data: Buffer.from(rest) };
      }
    }
    yield event;
  }
}

export async function* redactLogRecords(records: AsyncIterable<LogRecord | LogExitLine>, redactor: Redactor): AsyncGenerator<LogRecord | LogExitLine> {
  for await (const record of records) {
    if (!("seq" in record)) {
      yield record;
      continue;
    }
    const text = Buffer.from(record.data, "base64").toString("utf8");
    const redacted = redactor.redactText(text);
    yield redacted === text ? record : { ...record, data: Buffer.from(redacted, "utf8").toString("base64") };
  }
}

/** Every string in an event's payload (texts, tool input and output, diffs), redacted. A value
 * split across two events (streamed text pieces) passes, as across two log records. */
export function redactPayload<T>(value: T, redactor: Redactor): T {
  if (typeof value === "string") return redactor.redactText(value) as T;
  if (Array.isArray(value)) return value.map((item) => redactPayload(item, redactor)) as T;
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactPayload(item, redactor)])) as T;
  }
  return value;
}
