// Query parameters of the file routes: flags and byte offsets, checked strictly (an
// unknown value is a 400, never a silent default).
import { invalid } from "../errors.ts";

/** `1`/`true` and `0`/`false`; absent: the default. */
export function flag(query: URLSearchParams, name: string, fallback = false): boolean {
  const value = query.get(name);
  if (value === null) return fallback;
  if (value === "1" || value === "true") return true;
  if (value === "0" || value === "false") return false;
  throw invalid(`'${name}' must be true or false.`);
}

/** A non-negative integer byte offset; absent: undefined. */
export function offset(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!/^\d{1,16}$/.test(value) || Number(value) > Number.MAX_SAFE_INTEGER) throw invalid(`'${name}' must be a non-negative integer.`);
  return Number(value);
}

/** Refuses query parameters a route does not know: a typo must not pass as a default. */
export function onlyParams(query: URLSearchParams, allowed: string[]): void {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) throw invalid(`Unknown query parameter '${name.slice(0, 64)}' (allowed: ${allowed.join(", ")}).`);
  }
  for (const name of allowed) if (query.getAll(name).length > 1) throw invalid(`'${name}' may be given once.`);
}
