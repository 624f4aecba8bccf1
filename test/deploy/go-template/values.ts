// How Go templates (as Helm runs them) see values: what counts as true, how a value prints.
// Helm reads values.yaml into float64 numbers, which Go prints in exponent form from 1e6 on
// (1000000 → "1e+06"); rather than imitate that, the renderer refuses such numbers, and
// prints nothing it cannot print the way helm would.
import { TemplateError } from "./lexer.ts";

export type Dictionary = Record<string, unknown>;

export function isDictionary(value: unknown): value is Dictionary {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Go's truth: false, 0, nil, "" and empty lists and maps are false. */
export function isTrue(value: unknown): boolean {
  if (value === null || value === undefined) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isDictionary(value)) return Object.keys(value).length > 0;
  return true;
}

export function typeName(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (Array.isArray(value)) return "list";
  if (isDictionary(value)) return "map";
  return typeof value;
}

/** The text `{{ value }}` writes (fmt.Sprint), for the kinds helm prints the same way. */
export function printed(value: unknown, where: string): string {
  if (value === null || value === undefined) return ""; // helm turns "<no value>" into ""
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return String(value);
  if (typeof value === "number") {
    const size = Math.abs(value);
    if (!Number.isFinite(value) || size >= 1e6 || (size !== 0 && size < 1e-4)) {
      throw new TemplateError(where, `helm would print ${value} in exponent form; quote it in values.yaml`);
    }
    return String(value);
  }
  throw new TemplateError(where, `cannot print a ${typeName(value)}; use toYaml`);
}
