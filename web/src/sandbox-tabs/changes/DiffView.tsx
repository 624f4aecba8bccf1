// Changed files as diffs, one card per file: its path, what happened to it and how many lines
// came and went on the header, and its hunks below, unified or side by side (each file has
// its own switch; the last choice becomes the default for files shown next).
import { Badge, Card, Group, ScrollArea, SegmentedControl, Stack, Text } from "@mantine/core";
import { IconFileDiff } from "@tabler/icons-react";
import { Fragment, useState } from "react";
import type { GitDiff, GitDiffFile } from "./queries.ts";
import { type DiffLine, sideBySide } from "./sideBySide.ts";
import "./changes.css";

export type DiffMode = "unified" | "split";
const MODE_KEY = "outpost.changes.diffMode";

function storedMode(): DiffMode {
  try {
    return localStorage.getItem(MODE_KEY) === "split" ? "split" : "unified";
  } catch {
    return "unified";
  }
}

const STATUS_COLORS: Record<GitDiffFile["status"], string> = { added: "green", deleted: "red", modified: "blue", renamed: "grape" };
const SIGNS: Record<DiffLine["type"], string> = { add: "+", del: "-", context: " ", note: "" };

/** Every file of a diff; `only` narrows it to one path (the one picked in the status list). */
export function DiffList({ diff, only, empty }: { diff: GitDiff; only?: string | null; empty: string }) {
  const [defaultMode, setDefaultMode] = useState<DiffMode>(storedMode);
  const [modes, setModes] = useState<Record<string, DiffMode>>({});
  const files = only ? diff.files.filter((f) => f.path === only || f.oldPath === only) : diff.files;
  const choose = (path: string, mode: DiffMode) => {
    setModes((all) => ({ ...all, [path]: mode }));
    setDefaultMode(mode);
    try {
      localStorage.setItem(MODE_KEY, mode);
    } catch {
      // Private mode without storage: the choice holds for this page only.
    }
  };
  if (files.length === 0) {
    return (
      <Text size="sm" c="dimmed" py="md" ta="center">
        {empty}
      </Text>
    );
  }
  return (
    <Stack gap="sm">
      {files.map((file) => (
        <DiffFileCard
          key={`${file.oldPath ?? ""}→${file.path}`}
          file={file}
          mode={modes[file.path] ?? defaultMode}
          onMode={(mode) => choose(file.path, mode)}
        />
      ))}
      {diff.truncated ? (
        <Text size="xs" c="dimmed">
          The diff is larger than 8 MiB and was cut here; a terminal's <code>git diff</code> shows the rest.
        </Text>
      ) : null}
    </Stack>
  );
}

export function DiffFileCard({ file, mode, onMode }: { file: GitDiffFile; mode: DiffMode; onMode: (mode: DiffMode) => void }) {
  const name = file.oldPath && file.oldPath !== file.path ? `${file.oldPath} → ${file.path}` : file.path;
  return (
    <Card
      withBorder
      padding={0}
      component="section"
      aria-label={`Changes to ${file.path}`}
      data-testid="changes-diff-file"
      data-path={file.path}
      data-mode={mode}
    >
      <Group gap="xs" px="sm" py={6} wrap="nowrap" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <IconFileDiff size={16} aria-hidden />
        <Text size="sm" ff="monospace" truncate style={{ flex: 1, minWidth: 0 }} title={name}>
          {name}
        </Text>
        <Badge size="sm" variant="light" color={STATUS_COLORS[file.status]}>
          {file.status}
        </Badge>
        {file.additions > 0 ? (
          <Badge size="sm" variant="light" color="green" aria-label={`${file.additions} lines added`}>
            +{file.additions}
          </Badge>
        ) : null}
        {file.deletions > 0 ? (
          <Badge size="sm" variant="light" color="red" aria-label={`${file.deletions} lines removed`}>
            −{file.deletions}
          </Badge>
        ) : null}
        {file.binary || file.hunks.length === 0 ? null : (
          <SegmentedControl
            size="xs"
            value={mode}
            onChange={(value) => onMode(value as DiffMode)}
            data={[
              { value: "unified", label: "Unified" },
              { value: "split", label: "Side by side" },
            ]}
            aria-label={`Diff layout for ${file.path}`}
          />
        )}
      </Group>
      {file.binary ? (
        <Text size="sm" c="dimmed" p="sm">
          A binary file: no text to compare.
        </Text>
      ) : file.hunks.length === 0 ? (
        <Text size="sm" c="dimmed" p="sm">
          No change to its lines (its mode or name changed, or it is empty).
        </Text>
      ) : (
        <ScrollArea.Autosize mah={480}>{mode === "split" ? <SplitTable file={file} /> : <UnifiedTable file={file} />}</ScrollArea.Autosize>
      )}
    </Card>
  );
}

function UnifiedTable({ file }: { file: GitDiffFile }) {
  return (
    <table className="outpost-changes-diff" data-testid="diff-unified">
      <colgroup>
        <col style={{ width: 48 }} />
        <col style={{ width: 48 }} />
        <col style={{ width: 16 }} />
        <col />
      </colgroup>
      <tbody>
        {file.hunks.map((hunk) => (
          <Fragment key={hunk.header}>
            <tr className="hunk">
              <td colSpan={4}>{hunk.header}</td>
            </tr>
            {hunk.lines.map((line, index) =>
              line.type === "note" ? (
                // biome-ignore lint/suspicious/noArrayIndexKey: a hunk's lines never reorder
                <tr key={index} className="note">
                  <td colSpan={4}>{line.text}</td>
                </tr>
              ) : (
                // biome-ignore lint/suspicious/noArrayIndexKey: a hunk's lines never reorder
                <tr key={index} data-line={line.type}>
                  <td className="num">{line.oldLine ?? ""}</td>
                  <td className="num">{line.newLine ?? ""}</td>
                  <td className="sign">{SIGNS[line.type]}</td>
                  <td className="text">{line.text || " "}</td>
                </tr>
              ),
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

function SplitTable({ file }: { file: GitDiffFile }) {
  return (
    <table className="outpost-changes-diff" data-testid="diff-split">
      <colgroup>
        <col style={{ width: 48 }} />
        <col />
        <col style={{ width: 48 }} />
        <col />
      </colgroup>
      <tbody>
        {file.hunks.map((hunk) => (
          <Fragment key={hunk.header}>
            <tr className="hunk">
              <td colSpan={4}>{hunk.header}</td>
            </tr>
            {sideBySide(hunk.lines).map((row, index) =>
              row.kind === "note" ? (
                // biome-ignore lint/suspicious/noArrayIndexKey: a hunk's rows never reorder
                <tr key={index} className="note">
                  <td colSpan={4}>{row.text}</td>
                </tr>
              ) : (
                // biome-ignore lint/suspicious/noArrayIndexKey: a hunk's rows never reorder
                <tr key={index} className="side">
                  <Side line={row.left} side="old" />
                  <Side line={row.right} side="new" />
                </tr>
              ),
            )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

function Side({ line, side }: { line: DiffLine | null; side: "old" | "new" }) {
  const kind = line === null ? "empty" : line.type;
  const number = line === null ? null : side === "old" ? line.oldLine : line.newLine;
  return (
    <>
      <td className="num" data-line={kind}>
        {number ?? ""}
      </td>
      <td className="text" data-line={kind} data-side={side}>
        {line?.text || " "}
      </td>
    </>
  );
}
