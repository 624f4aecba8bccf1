// git's unified diff turned into files and hunks with line numbers (pure), for the Changes
// panel's side-by-side view. The parsing is parse-diff's; this adds line numbers and the
// shape the API documents.
import parseDiff from "parse-diff";

export interface DiffLine {
  type: "context" | "add" | "del" | "note";
  text: string;
  oldLine: number | null;
  newLine: number | null;
}

export interface GitDiffFile {
  path: string;
  oldPath: string | null;
  status: "modified" | "added" | "deleted" | "renamed";
  binary: boolean;
  additions: number;
  deletions: number;
  hunks: { header: string; oldStart: number; oldLines: number; newStart: number; newLines: number; lines: DiffLine[] }[];
}

export function diffFiles(unified: string): GitDiffFile[] {
  return parseDiff(unified).map((file) => {
    const from = cleanPath(file.from);
    const to = cleanPath(file.to);
    const status: GitDiffFile["status"] = file.new ? "added" : file.deleted ? "deleted" : from && to && from !== to ? "renamed" : "modified";
    const binary = file.chunks.length === 0 && /Binary files .* differ|GIT binary patch/.test(unifiedOf(unified, from ?? to));
    return {
      path: (status === "deleted" ? from : to) ?? from ?? "",
      oldPath: status === "renamed" ? from : null,
      status,
      binary,
      additions: file.additions,
      deletions: file.deletions,
      hunks: file.chunks.map((chunk) => ({
        header: chunk.content,
        oldStart: chunk.oldStart,
        oldLines: chunk.oldLines,
        newStart: chunk.newStart,
        newLines: chunk.newLines,
        lines: chunk.changes.map((change) => {
          if (change.type === "add") return { type: "add" as const, text: change.content.slice(1), oldLine: null, newLine: change.ln };
          if (change.type === "del") return { type: "del" as const, text: change.content.slice(1), oldLine: change.ln, newLine: null };
          if (change.content.startsWith("\\")) return { type: "note" as const, text: change.content, oldLine: null, newLine: null };
          return { type: "context" as const, text: change.content.slice(1), oldLine: change.ln1, newLine: change.ln2 };
        }),
      })),
    };
  });
}

const cleanPath = (path: string | undefined) => (!path || path === "/dev/null" ? null : path);

/** The part of the text about one file (to tell a binary change from an empty one). */
function unifiedOf(unified: string, path: string | null): string {
  if (!path) return "";
  const start = unified.indexOf(` b/${path}\n`);
  if (start < 0) return "";
  const end = unified.indexOf("\ndiff --git ", start);
  return unified.slice(start, end < 0 ? undefined : end);
}
