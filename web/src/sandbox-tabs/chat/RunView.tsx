// One run (turn) of a conversation: the person's prompt, then what the agent did in the order
// it happened (text, thinking, tool calls, diffs, the to-do list, plans, errors, approvals),
// and a footer with the run's status and usage.
import { Alert, Box, Card, Group, Paper, Stack, Text } from "@mantine/core";
import { IconAlertCircle, IconBulb, IconUser } from "@tabler/icons-react";
import { ago, exactTime, numberFormat } from "../../format.ts";
import { ApprovalCard } from "./ApprovalCard.tsx";
import { DiffView } from "./DiffView.tsx";
import { Markdown } from "./Markdown.tsx";
import { RunStatusBadge } from "./RunStatusBadge.tsx";
import { TodoList } from "./TodoList.tsx";
import { ToolCard } from "./ToolCard.tsx";
import type { RunTranscript, TranscriptItem } from "./transcript.ts";
import { isActive, type Run, type RunUsage } from "./types.ts";

const usd = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 4 });

export function RunView({ run, transcript, canDecide }: { run: Run; transcript: RunTranscript | undefined; canDecide: boolean }) {
  // The stream is ahead of the resource between a status event and the refetch it causes.
  const live = transcript?.status;
  const status = live && live.status !== "stalled" ? live.status : run.status;
  const reason = (live?.status === status ? live.reason : undefined) ?? run.reason;
  const active = isActive(status);
  const usage = transcript?.usage ?? run.usage;
  const items = transcript?.items ?? [];

  return (
    <Stack gap="sm" component="article" data-testid="chat-run" data-run-id={run.id} data-status={status} aria-label={`Turn: ${run.prompt.slice(0, 80)}`}>
      <Group justify="flex-end">
        <Paper withBorder radius="lg" px="md" py="xs" maw="85%" bg="var(--mantine-primary-color-light)" data-testid="chat-prompt">
          <Group gap={6} mb={2} wrap="nowrap">
            <IconUser size={14} aria-hidden />
            <Text size="xs" c="dimmed" title={exactTime(run.createdAt)}>
              {ago(run.createdAt)}
            </Text>
          </Group>
          <Text size="sm" style={{ whiteSpace: "pre-wrap", wordBreak: "break-word" }}>
            {run.prompt}
          </Text>
        </Paper>
      </Group>
      {items.map((item) => (
        <Item key={item.key} item={item} runId={run.id} active={active} canDecide={canDecide} />
      ))}
      {status === "queued" ? (
        <Text size="sm" c="dimmed">
          Waits for the turn before it to end.
        </Text>
      ) : null}
      <Group gap="sm" data-testid="run-footer">
        <RunStatusBadge status={status} reason={reason} />
        {live?.status === "stalled" ? <RunStatusBadge status="stalled" reason={live.reason} /> : null}
        {reason && !active ? (
          <Text size="xs" c={status === "failed" ? "red" : "dimmed"} style={{ flex: 1, minWidth: 0 }} lineClamp={2}>
            {reason}
          </Text>
        ) : null}
        {usage ? <UsageLine usage={usage} /> : null}
      </Group>
    </Stack>
  );
}

function UsageLine({ usage }: { usage: RunUsage }) {
  const cached = usage.cacheReadTokens + usage.cacheWriteTokens;
  return (
    <Text size="xs" c="dimmed" data-testid="run-usage">
      {numberFormat.format(usage.inputTokens)} in · {numberFormat.format(usage.outputTokens)} out
      {cached > 0 ? ` · ${numberFormat.format(cached)} cached` : ""}
      {usage.costUsd !== null ? ` · ${usd.format(usage.costUsd)}` : ""}
    </Text>
  );
}

function Item({ item, runId, active, canDecide }: { item: TranscriptItem; runId: string; active: boolean; canDecide: boolean }) {
  switch (item.kind) {
    case "text":
      return (
        <Box
          data-testid="chat-message"
          data-streaming={item.streaming && active ? "true" : "false"}
          className={item.streaming && active ? "outpost-chat-streaming" : undefined}
        >
          <Markdown text={item.text} />
        </Box>
      );
    case "thinking":
      return (
        <Box component="details" data-testid="chat-thinking">
          <Text component="summary" size="sm" c="dimmed" style={{ cursor: "pointer" }}>
            Thinking
          </Text>
          <Text size="sm" c="dimmed" mt={4} style={{ whiteSpace: "pre-wrap" }}>
            {item.text}
          </Text>
        </Box>
      );
    case "tool":
      return <ToolCard name={item.name} input={item.input} result={item.result} running={active} />;
    case "file":
      return <DiffView path={item.path} diff={item.diff} />;
    case "todo":
      return <TodoList items={item.items} />;
    case "plan":
      return (
        <Card withBorder padding="sm" data-testid="chat-plan">
          <Group gap={6} mb="xs">
            <IconBulb size={16} aria-hidden />
            <Text size="sm" fw={600}>
              Plan
            </Text>
          </Group>
          <Markdown text={item.text} />
        </Card>
      );
    case "error":
      return (
        <Alert color="red" variant="light" icon={<IconAlertCircle size={18} aria-hidden />} title={item.message} data-testid="chat-error">
          {item.hint ? <Text size="sm">{item.hint}</Text> : null}
          <Text size="xs" c="dimmed" ff="monospace">
            {item.code}
          </Text>
        </Alert>
      );
    case "approval":
      return (
        <ApprovalCard
          runId={runId}
          approvalId={item.approvalId}
          tool={item.tool}
          input={item.input}
          decision={item.decision}
          message={item.message}
          canDecide={canDecide && active}
        />
      );
  }
}
