// What changed in the working tree, one row per file: its status (and whether it is staged),
// a box choosing whether the next commit takes it, and the name itself, which shows that
// file's diff alone (picked again, every file's diff shows).
import { Badge, Checkbox, Group, NavLink, ScrollArea, Stack, Text, Tooltip } from "@mantine/core";
import type { GitFileStatus, GitStatus } from "./queries.ts";

const LETTERS: Record<GitFileStatus["status"], { letter: string; color: string }> = {
  modified: { letter: "M", color: "blue" },
  added: { letter: "A", color: "green" },
  deleted: { letter: "D", color: "red" },
  renamed: { letter: "R", color: "grape" },
  copied: { letter: "C", color: "grape" },
  typechange: { letter: "T", color: "orange" },
  untracked: { letter: "U", color: "teal" },
  conflicted: { letter: "!", color: "red" },
};

export interface StatusListProps {
  status: GitStatus;
  selected: string | null;
  onSelect: (path: string | null) => void;
  /** Paths left out of the next commit; null: the boxes are not shown (a viewer). */
  excluded: ReadonlySet<string> | null;
  onToggle: (path: string, include: boolean) => void;
}

export function StatusList({ status, selected, onSelect, excluded, onToggle }: StatusListProps) {
  if (status.files.length === 0) {
    return (
      <Text size="sm" c="dimmed" p="sm" data-testid="changes-clean">
        No changes: the working tree matches {status.head ? `commit ${status.head.slice(0, 7)}` : "the empty repository"}.
      </Text>
    );
  }
  return (
    <Stack gap={0}>
      <ScrollArea.Autosize mah={360}>
        <ul aria-label="Changed files" style={{ listStyle: "none", margin: 0, padding: 0 }}>
          {status.files.map((file) => {
            const mark = LETTERS[file.status];
            const where = file.staged && file.unstaged ? "staged, with more changes unstaged" : file.staged ? "staged" : "not staged";
            return (
              <li key={file.path} data-testid="changes-file" data-path={file.path} data-status={file.status}>
                <Group gap={6} wrap="nowrap" pl={excluded ? 8 : 0}>
                  {excluded ? (
                    <Checkbox
                      size="xs"
                      checked={!excluded.has(file.path)}
                      onChange={(event) => onToggle(file.path, event.currentTarget.checked)}
                      aria-label={`Commit ${file.path}`}
                    />
                  ) : null}
                  <NavLink
                    component="button"
                    type="button"
                    active={selected === file.path}
                    onClick={() => onSelect(selected === file.path ? null : file.path)}
                    style={{ flex: 1, minWidth: 0 }}
                    py={4}
                    label={
                      <Text size="sm" ff="monospace" truncate title={file.oldPath ? `${file.oldPath} → ${file.path}` : file.path}>
                        {file.path}
                      </Text>
                    }
                    description={file.oldPath ? `from ${file.oldPath}` : undefined}
                    rightSection={
                      <Tooltip label={`${file.status}, ${where}`}>
                        <Badge size="sm" variant={file.staged ? "filled" : "light"} color={mark.color} aria-label={`${file.status}, ${where}`} w={24} px={0}>
                          {mark.letter}
                        </Badge>
                      </Tooltip>
                    }
                  />
                </Group>
              </li>
            );
          })}
        </ul>
      </ScrollArea.Autosize>
      {status.truncated ? (
        <Text size="xs" c="dimmed" p="xs">
          More than 5 000 files changed: the list stops there.
        </Text>
      ) : null}
    </Stack>
  );
}
