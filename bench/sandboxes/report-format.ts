// Formatting shared by the sections of the sandbox report.
import { ratio } from "../lib/format.ts";
import { percentile } from "../lib/stats.ts";

/** Milliseconds with the precision the size deserves: 0.84, 12.3, 456. */
export function fine(value: number): string {
  if (!Number.isFinite(value)) return "–";
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ms`;
}

export const median = (values: readonly number[]) => (values.length ? percentile(values, 50) : Number.NaN);

/** p50 / p95 / max / min cells, or dashes for no values. */
export function spread(values: readonly number[]): string[] {
  if (values.length === 0) return ["–", "–", "–", "–"];
  return [fine(percentile(values, 50)), fine(percentile(values, 95)), fine(Math.max(...values)), fine(Math.min(...values))];
}

export const mbPerSecond = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);

/** Like format.ts's ratio, with two significant digits below 1 (×0.041) and 2 decimals up to 2 (×1.25). */
export function preciseRatio(value: number, base: number): string {
  if (!(base > 0) || !Number.isFinite(value)) return "–";
  const r = value / base;
  if (r < 1) return `×${r.toPrecision(2)}`;
  if (r < 2) return `×${r.toFixed(2)}`;
  return ratio(value, base);
}

/** "met" / "not met" for a target, or "?" without a figure. */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? "not measured" : ok ? "met" : "NOT met";
}
