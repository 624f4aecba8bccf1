// How much environment a project may carry. Every variable is handed to every command in
// its sandboxes, and the kernel refuses an exec whose environment passes a few MiB (and
// the supervisor a request over 1 MiB), so the whole set is bounded, not only each value.

export const MAX_ENV_VARS = 200;
/**
 * Per value, in UTF-16 units as zod counts them: at most 96 KiB of UTF-8, so one
 * `NAME=value` stays under the kernel's 128 KiB per string (MAX_ARG_STRLEN).
 */
export const MAX_ENV_VALUE_CHARS = 32 * 1024;
/** Names, values and the `=` and NUL of each `NAME=value` entry, as the kernel counts them. */
export const MAX_ENV_TOTAL_BYTES = 256 * 1024;

export function envBytes(env: Record<string, string>): number {
  let total = 0;
  for (const [name, value] of Object.entries(env)) total += Buffer.byteLength(name) + Buffer.byteLength(value) + 2;
  return total;
}

/** Why this whole environment is too big for a project, or null when it fits. */
export function projectEnvProblem(env: Record<string, string>): string | null {
  const count = Object.keys(env).length;
  if (count > MAX_ENV_VARS) return `a project has at most ${MAX_ENV_VARS} env variables (this would make ${count})`;
  const bytes = envBytes(env);
  if (bytes > MAX_ENV_TOTAL_BYTES)
    return `a project's env holds at most ${MAX_ENV_TOTAL_BYTES / 1024} KiB in all (this would make ${Math.ceil(bytes / 1024)} KiB)`;
  return null;
}
