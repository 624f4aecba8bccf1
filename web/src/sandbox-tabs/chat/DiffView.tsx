// A file the agent changed: its path and a count of added and removed lines on the header,
// the unified diff below with each line coloured by what it does (chat.css).
import { Badge, Card, Group, ScrollArea, Text } from "@mantine/core";
import { IconFileDiff } from "@tabler/icons-react";
import { useMemo } from "react";

type LineKind = "add" | "del" | "hunk" | "meta" | "context";

function kindOf(line: string): LineKind {
  if (line.startsWith("+++ ") || line.startsWith("--- ") || line.startsWith("diff ") || line.startsWith("\\ ")) return "meta";
  if (line.startsWith("@@")) return "hunk";
  if (line.startsWith("+")) return "add";
  if (line.startsWith("-")) return "del";
  return "context";
}

export function DiffView({ path, diff }: { path: string; diff: string }) {
  const lines = useMemo(
    () =>
      diff
        .replace(/\n$/, "")
        .split("\n")
        .map((text) => ({ text, kind: kindOf(text) })),
    [diff],
  );
  const added = lines.filter((l) => l.kind === "add").length;
  const removed = lines.filter((l) => l.kind === "del").length;
  return (
    <Card withBorder padding={0} data-testid="file-diff" data-path={path} aria-label={`Changes to ${path}`} component="section">
      <Group gap="xs" px="sm" py={6} wrap="nowrap" style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
        <IconFileDiff size={16} aria-hidden />
        <Text size="sm" ff="monospace" truncate style={{ flex: 1, minWidth: 0 }} title={path}>
          {path}
        </Text>
        {added > 0 ? (
          <Badge size="sm" variant="light" color="green" aria-label={`${added} lines added`}>
            +{added}
          </Badge>
        ) : null}
        {removed > 0 ? (
          <Badge size="sm" variant="light" color="red" aria-label={`${removed} lines removed`}>
            −{removed}
          </Badge>
        ) : null}
      </Group>
      <ScrollArea.Autosize mah={360}>
        <pre className="outpost-diff">
          {lines.map((line, index) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the lines of one diff never reorder
            <span key={index} data-line={line.kind}>
              {line.text || " "}
            </span>
          ))}
        </pre>
      </ScrollArea.Autosize>
    </Card>
  );
}
