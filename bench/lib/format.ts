// Plain-text formatting of the summary: aligned columns, times, sizes, ratios.
import type { Summary } from "./stats.ts";

/** Rows of cells, first column left-aligned, the others right-aligned, two spaces apart. */
export function table(rows: string[][], indent = "  "): string {
  const columns = Math.max(...rows.map((row) => row.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0)));
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
          .join("   ")
          .trimEnd(),
    )
    .join("\n");
}

export const ms = (value: number) => `${value.toFixed(0)} ms`;

/** "1234 ms (1100–1300)": median, then min–max. */
export const timing = (summary: Summary) => `${ms(summary.median)} (${summary.min.toFixed(0)}–${summary.max.toFixed(0)})`;

export const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

/** "×3.2": how many times `value` is `base`. */
export const ratio = (value: number, base: number) => (base > 0 ? `×${(value / base).toFixed(value / base < 10 ? 1 : 0)}` : "–");
