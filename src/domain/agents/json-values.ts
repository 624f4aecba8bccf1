// Small readers for the JSON that agent CLIs print: every value came out of a sandbox, so
// nothing is trusted to have the shape the agent's documentation promises.
import { cut, EVENT_LIMITS } from "./events.ts";

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One stdout line as a JSON object, or null when it is anything else (banners, warnings). */
export function parseJsonObject(text: string): Record<string, unknown> | null {
  if (!text.startsWith("{")) return null;
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** A string field, or "" when absent or not a string. */
export function stringField(record: Record<string, unknown>, key: string): string {
  const value = record[key];
  return typeof value === "string" ? value : "";
}

/** A token count: non-negative integers only, anything else counts as 0. */
export function tokenCount(value: unknown): number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : 0;
}

/** Tool input as the agent gave it, unless its JSON is too large to keep (then a summary). */
export function boundedJson(value: unknown): unknown {
  const text = JSON.stringify(value ?? null);
  return text.length <= EVENT_LIMITS.inputJsonChars ? (value ?? null) : { truncated: true, preview: cut(text, 2000) };
}

/** An id the agent chose (session, tool call), kept only when it is a sane length. */
export function boundedId(value: unknown): string | null {
  return typeof value === "string" && value.length > 0 && value.length <= 200 ? value : null;
}
