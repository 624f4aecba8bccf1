// Unified diffs for `file_change` events, built from what agents report about an edit
// (hunks with line arrays, or a whole new file), so every agent's changes look alike.

export interface DiffHunk {
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Each line starts with " ", "-" or "+". */
  lines: string[];
}

export function unifiedDiff(path: string, hunks: DiffHunk[]): string {
  const header = `--- a/${stripSlash(path)}\n+++ b/${stripSlash(path)}\n`;
  return header + hunks.map((h) => `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@\n${h.lines.join("\n")}\n`).join("");
}

/** A file created from nothing: every line added. */
export function newFileDiff(path: string, content: string): string {
  const lines = content.endsWith("\n") ? content.slice(0, -1).split("\n") : content.split("\n");
  if (content === "") return `--- /dev/null\n+++ b/${stripSlash(path)}\n`;
  return `--- /dev/null\n+++ b/${stripSlash(path)}\n@@ -0,0 +1,${lines.length} @@\n${lines.map((l) => `+${l}`).join("\n")}\n`;
}

const stripSlash = (path: string) => path.replace(/^\/+/, "");
