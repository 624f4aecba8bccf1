// The project page's latest conversations, whichever sandbox they ran in: each opens in its
// sandbox's Chat tab. A deleted sandbox's conversations stay readable there (its page shows
// them without a composer).
import { Anchor, Badge, Card, Group, Skeleton, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import { useSandboxes } from "../../api/queries.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago, exactTime } from "../../format.ts";
import { paths } from "../../routes.tsx";
import { useProjectConversations } from "./queries.ts";
import { RunStatusBadge } from "./RunStatusBadge.tsx";
import { AGENT_LABELS } from "./types.ts";

export const conversationPath = (sandboxId: string, conversationId: string) =>
  `${paths.sandbox(sandboxId, "chat")}?conversation=${encodeURIComponent(conversationId)}`;

export default function ProjectConversations({ projectId }: { projectId: string }) {
  const conversations = useProjectConversations(projectId);
  const sandboxes = useSandboxes(projectId);
  const live = new Map((sandboxes.data ?? []).map((s) => [s.id, s.name]));
  return (
    <Card withBorder padding="md" component="section" aria-labelledby="project-conversations-title" data-testid="project-conversations">
      <Stack gap="xs">
        <Title order={2} size="h4" id="project-conversations-title">
          Conversations
        </Title>
        {conversations.error ? <ErrorAlert error={conversations.error} onRetry={() => void conversations.refetch()} /> : null}
        {conversations.isPending ? <Skeleton h={60} /> : null}
        {conversations.data?.length === 0 ? (
          <Text size="sm" c="dimmed">
            None yet. Open a sandbox and start one in its Chat tab.
          </Text>
        ) : null}
        {conversations.data?.map((c) => {
          const sandboxName = live.get(c.sandboxId);
          return (
            <Group key={c.id} gap="xs" wrap="nowrap" justify="space-between" data-testid="project-conversation" data-conversation-id={c.id}>
              <Stack gap={0} style={{ minWidth: 0 }}>
                <Anchor component={Link} to={conversationPath(c.sandboxId, c.id)} size="sm" lineClamp={1}>
                  {c.title || "Untitled conversation"}
                </Anchor>
                <Text size="xs" c="dimmed" title={exactTime(c.updatedAt)}>
                  {AGENT_LABELS[c.agent] ?? c.agent} · {sandboxName ?? "deleted sandbox"} · {ago(c.updatedAt)}
                </Text>
              </Stack>
              {sandboxName === undefined && sandboxes.data ? (
                <Badge size="xs" variant="outline" color="gray">
                  read-only
                </Badge>
              ) : c.status !== "idle" ? (
                <RunStatusBadge status={c.status} size="xs" testId="project-conversation-status" />
              ) : null}
            </Group>
          );
        })}
      </Stack>
    </Card>
  );
}
