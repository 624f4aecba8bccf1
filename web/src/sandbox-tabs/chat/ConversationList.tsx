// The sandbox's conversations, newest first, each with its agent, age and latest status;
// the selected one is marked for assistive technology too.
import { Button, NavLink, ScrollArea, Skeleton, Stack, Text } from "@mantine/core";
import { IconMessagePlus } from "@tabler/icons-react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago } from "../../format.ts";
import { useSandboxConversations } from "./queries.ts";
import { RunStatusBadge } from "./RunStatusBadge.tsx";
import { AGENT_LABELS } from "./types.ts";

export function ConversationList({
  sandboxId,
  selected,
  onSelect,
  onNew,
  height,
}: {
  sandboxId: string;
  selected: string | null;
  onSelect: (conversationId: string) => void;
  /** Start a new conversation; absent for those who may not. */
  onNew?: () => void;
  height: string;
}) {
  const conversations = useSandboxConversations(sandboxId);
  return (
    <Stack gap="xs" h={height} component="nav" aria-label="Conversations">
      {onNew ? (
        <Button variant={selected === null ? "filled" : "light"} leftSection={<IconMessagePlus size={16} aria-hidden />} onClick={onNew} fullWidth>
          New conversation
        </Button>
      ) : null}
      {conversations.error ? <ErrorAlert error={conversations.error} onRetry={() => void conversations.refetch()} /> : null}
      {conversations.isPending ? <Skeleton h={120} /> : null}
      {conversations.data?.length === 0 ? (
        <Text size="sm" c="dimmed" px="xs">
          No conversations yet.
        </Text>
      ) : null}
      <ScrollArea style={{ flex: 1 }} type="auto">
        <Stack gap={2}>
          {conversations.data?.map((c) => (
            <NavLink
              key={c.id}
              component="button"
              active={c.id === selected}
              aria-current={c.id === selected ? "true" : undefined}
              onClick={() => onSelect(c.id)}
              data-testid="conversation-item"
              data-conversation-id={c.id}
              label={
                <Text size="sm" lineClamp={2}>
                  {c.title || "Untitled conversation"}
                </Text>
              }
              description={`${AGENT_LABELS[c.agent] ?? c.agent} · ${ago(c.updatedAt)}`}
              rightSection={c.status === "idle" ? null : <RunStatusBadge status={c.status} size="xs" testId="conversation-item-status" />}
            />
          ))}
        </Stack>
      </ScrollArea>
    </Stack>
  );
}
