// Reads a Dockerfile into its instructions, enough for tests to check what an image is made of
// without building it (no Docker daemon here or on CI): continuation lines joined, comments
// dropped, and ARG defaults substituted where `${NAME}` uses them.

export interface Instruction {
  keyword: string; // upper case: FROM, RUN, COPY, USER…
  args: string;
  line: number;
}

export function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | null = null;
  for (const [index, raw] of text.split("\n").entries()) {
    const trimmed = raw.trim();
    // Docker drops comment and blank lines, also in the middle of a continued instruction.
    if (trimmed.startsWith("#") || trimmed === "") continue;
    const continued = /\\\s*$/.test(raw);
    const content = continued ? raw.replace(/\\\s*$/, "") : raw;
    if (!pending) pending = { parts: [], line: index + 1 };
    pending.parts.push(content.trim());
    if (continued) continue;
    const joined = pending.parts.join(" ").trim();
    const match = /^(\S+)\s*(.*)$/.exec(joined);
    if (match) instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!, line: pending.line });
    pending = null;
  }
  if (pending) throw new Error(`the Dockerfile ends inside a continued instruction (line ${pending.line})`);
  return instructions;
}

/** ARG NAME=default pairs, in order. */
export function argDefaults(instructions: Instruction[]): Map<string, string> {
  const defaults = new Map<string, string>();
  for (const instruction of instructions) {
    if (instruction.keyword !== "ARG") continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(\S+)$/.exec(instruction.args.trim());
    if (match) defaults.set(match[1]!, match[2]!);
  }
  return defaults;
}

/** `${NAME}` and `$NAME` of the given ARGs replaced by their defaults; other variables (shell ones) kept. */
export function substituteArgs(text: string, args: Map<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const value = args.get(braced ?? bare ?? "");
    return value ?? whole;
  });
}
