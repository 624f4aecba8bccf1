// One tool call: the tool's name and its main input (the command, the file, the URL) on a
// header that opens the card; inside, the whole input as JSON and the output. A failed call
// is red; a call still running says so.
import { Badge, Box, Card, Collapse, Group, Loader, Stack, Text, UnstyledButton } from "@mantine/core";
import { IconAlertTriangle, IconChevronRight, IconTool } from "@tabler/icons-react";
import { useState } from "react";

/** The input field that says most about a call, per the usual tool shapes. */
export function mainInput(input: unknown): string | null {
  if (typeof input !== "object" || input === null) return null;
  const record = input as Record<string, unknown>;
  for (const key of ["command", "file_path", "path", "url", "pattern", "query", "description", "prompt"]) {
    const value = record[key];
    if (typeof value === "string" && value.trim()) return value.split("\n")[0] ?? value;
  }
  return null;
}

export function ToolCard({
  name,
  input,
  result,
  running,
}: {
  name: string;
  input: unknown;
  result: { output: string; isError: boolean } | null;
  /** The run goes on, so a call without a result is still running (not abandoned). */
  running: boolean;
}) {
  const [open, setOpen] = useState(false);
  const summary = mainInput(input);
  const failed = result?.isError === true;
  return (
    <Card
      withBorder
      padding={0}
      data-testid="tool-card"
      data-tool={name}
      data-state={result ? (failed ? "error" : "done") : running ? "running" : "unfinished"}
      style={failed ? { borderColor: "var(--mantine-color-red-6)" } : undefined}
    >
      <UnstyledButton onClick={() => setOpen((o) => !o)} aria-expanded={open} px="sm" py={6} w="100%">
        <Group gap="xs" wrap="nowrap">
          <IconChevronRight size={14} aria-hidden style={{ transform: open ? "rotate(90deg)" : undefined, transition: "transform 120ms", flexShrink: 0 }} />
          {failed ? <IconAlertTriangle size={16} color="var(--mantine-color-red-6)" aria-hidden /> : <IconTool size={16} aria-hidden />}
          <Text size="sm" fw={600} style={{ flexShrink: 0 }}>
            {name}
          </Text>
          {summary ? (
            <Text size="sm" ff="monospace" c="dimmed" truncate style={{ flex: 1, minWidth: 0 }}>
              {summary}
            </Text>
          ) : (
            <Box style={{ flex: 1 }} />
          )}
          {!result && running ? <Loader size={12} aria-label="Running" /> : null}
          {failed ? (
            <Badge size="xs" color="red" variant="light">
              error
            </Badge>
          ) : null}
        </Group>
      </UnstyledButton>
      <Collapse expanded={open}>
        <Stack gap="xs" px="sm" pb="sm">
          <Text size="xs" c="dimmed" fw={600}>
            Input
          </Text>
          <pre className="outpost-chat-pre">{JSON.stringify(input, null, 2)}</pre>
          {result ? (
            <>
              <Text size="xs" c={failed ? "red" : "dimmed"} fw={600}>
                {failed ? "Error" : "Output"}
              </Text>
              <pre className="outpost-chat-pre" data-testid="tool-output" style={failed ? { color: "var(--mantine-color-red-7)" } : undefined}>
                {result.output || "(no output)"}
              </pre>
            </>
          ) : null}
        </Stack>
      </Collapse>
    </Card>
  );
}
