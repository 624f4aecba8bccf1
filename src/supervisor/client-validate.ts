// Shape checks for what the supervisor sends back: the client trusts nothing it did not
// verify, so a confused or foreign peer gives a clear error instead of undefined fields
// deep in the control plane. Each returns the value typed, or null when it does not fit.
import type { ExecEvent, HealthResponse, LogLine, Process } from "./protocol.ts";

type Loose = Record<string, unknown>;
const isObject = (value: unknown): value is Loose => typeof value === "object" && value !== null && !Array.isArray(value);
const isInt = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isIntOrNull = (value: unknown) => value === null || isInt(value);
const isStringOrNull = (value: unknown) => value === null || typeof value === "string";

export function asHealth(value: unknown): HealthResponse | null {
  if (!isObject(value) || !isInt(value.protocol)) return null;
  return value as unknown as HealthResponse;
}

export function asProcess(value: unknown): Process | null {
  if (!isObject(value)) return null;
  const ok =
    typeof value.id === "string" &&
    (typeof value.command === "string" || Array.isArray(value.command)) &&
    typeof value.cwd === "string" &&
    isInt(value.pid) &&
    (value.status === "running" || value.status === "exited") &&
    isIntOrNull(value.exitCode) &&
    isStringOrNull(value.signal) &&
    typeof value.startedAt === "string" &&
    isStringOrNull(value.endedAt) &&
    (value.name === undefined || typeof value.name === "string");
  return ok ? (value as unknown as Process) : null;
}

export function asExecEvent(value: unknown): ExecEvent | null {
  if (!isObject(value)) return null;
  switch (value.type) {
    case "started":
      return isInt(value.pid) ? (value as unknown as ExecEvent) : null;
    case "stdout":
    case "stderr":
      return typeof value.data === "string" ? (value as unknown as ExecEvent) : null;
    case "exit":
      return isIntOrNull(value.exitCode) && isStringOrNull(value.signal) && typeof value.timedOut === "boolean" && typeof value.durationMs === "number"
        ? (value as unknown as ExecEvent)
        : null;
    default:
      return null;
  }
}

export function asLogLine(value: unknown): LogLine | null {
  if (!isObject(value)) return null;
  if (value.type === "exit") return isIntOrNull(value.exitCode) && isStringOrNull(value.signal) ? (value as unknown as LogLine) : null;
  if (value.type === "end") return value as unknown as LogLine;
  const ok =
    isInt(value.seq) &&
    (value.stream === "stdout" || value.stream === "stderr" || value.stream === "system") &&
    typeof value.data === "string" &&
    typeof value.ts === "string";
  return ok ? (value as unknown as LogLine) : null;
}
