// Bench sizes from the environment: OUTPOST_BENCH_* variables override the defaults.

/** A whole number ≥ `min` from `name`, or `fallback` when it is unset or empty. */
export function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number ≥ ${min}, not '${raw}'`);
  return value;
}
