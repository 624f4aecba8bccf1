// A hunk's lines laid out in two columns, the way a side-by-side diff reads: context on both
// sides, a run of removed lines beside the run of added lines that replaced it (paired in
// order, the shorter side padded), and git's "\ No newline at end of file" on a row of its own.
import type { GitDiffFile } from "./queries.ts";

export type DiffLine = GitDiffFile["hunks"][number]["lines"][number];

export type SideRow = { kind: "pair"; left: DiffLine | null; right: DiffLine | null } | { kind: "note"; text: string };

export function sideBySide(lines: readonly DiffLine[]): SideRow[] {
  const rows: SideRow[] = [];
  let removed: DiffLine[] = [];
  let added: DiffLine[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(removed.length, added.length); i += 1) rows.push({ kind: "pair", left: removed[i] ?? null, right: added[i] ?? null });
    removed = [];
    added = [];
  };
  for (const line of lines) {
    if (line.type === "del") {
      // A removal after additions starts a new change block (git puts removals first).
      if (added.length > 0) flush();
      removed.push(line);
    } else if (line.type === "add") {
      added.push(line);
    } else {
      flush();
      rows.push(line.type === "note" ? { kind: "note", text: line.text } : { kind: "pair", left: line, right: line });
    }
  }
  flush();
  return rows;
}
