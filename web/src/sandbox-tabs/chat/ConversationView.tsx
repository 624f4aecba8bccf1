// One conversation: its header (with its git branch and pull request), the transcript of its
// runs (the resource for what each run is, the live stream for what happened in it), and the
// composer. It keeps to the bottom while the answer streams in, unless the person scrolled
// up to read.
import { Badge, Group, ScrollArea, Skeleton, Stack, Text, Title, Tooltip } from "@mantine/core";
import { useLayoutEffect, useMemo, useRef } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { Composer } from "./Composer.tsx";
import { ConversationGit } from "./ConversationGit.tsx";
import { useCancelRun, useConversation, useSendMessage } from "./queries.ts";
import { RunStatusBadge } from "./RunStatusBadge.tsx";
import { RunView } from "./RunView.tsx";
import { AGENT_LABELS, isActive } from "./types.ts";
import { useConversationStream } from "./useConversationStream.ts";

/** Within this many pixels of the bottom, new content scrolls into view. */
const STICK_PX = 48;

export function ConversationView({
  conversationId,
  canEdit,
  closedReason,
  height,
}: {
  conversationId: string;
  canEdit: boolean;
  /** Why nothing can be sent (the sandbox is stopped or gone), or null. */
  closedReason: string | null;
  height: string;
}) {
  const detail = useConversation(conversationId);
  const runs = detail.data?.runs ?? [];
  const knownRunIds = useMemo(() => new Set(runs.map((run) => run.id)), [runs]);
  const { transcript, live, error: streamError } = useConversationStream(conversationId, knownRunIds);
  const send = useSendMessage(conversationId);
  const cancel = useCancelRun(conversationId);

  const viewport = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on new content
  useLayoutEffect(() => {
    const box = viewport.current;
    if (box && stick.current) box.scrollTop = box.scrollHeight;
  }, [transcript, runs.length]);

  if (detail.error) return <ErrorAlert error={detail.error} title="This conversation cannot be shown" onRetry={() => void detail.refetch()} />;
  if (!detail.data) return <Skeleton h={300} />;
  const conversation = detail.data;

  const statusOf = (run: (typeof runs)[number]) => {
    const streamed = transcript.runs[run.id]?.status?.status;
    return streamed && streamed !== "stalled" ? streamed : run.status;
  };
  const current = runs.find((run) => statusOf(run) === "running" || statusOf(run) === "waiting");
  const busy = runs.some((run) => isActive(statusOf(run)));
  const latest = current ?? runs.at(-1);
  const lastEndedRunId = runs.findLast((run) => !isActive(statusOf(run)))?.id ?? null;

  return (
    <Stack gap="sm" h={height} data-testid="conversation" data-conversation-id={conversation.id}>
      <Group justify="space-between" wrap="nowrap" gap="sm">
        <Stack gap={0} style={{ minWidth: 0 }}>
          <Title order={2} size="h4" lineClamp={1}>
            {conversation.title || "Untitled conversation"}
          </Title>
          <Text size="xs" c="dimmed">
            {AGENT_LABELS[conversation.agent] ?? conversation.agent}
            {conversation.model ? ` · ${conversation.model}` : ""} · {runs.length} {runs.length === 1 ? "turn" : "turns"}
            {conversation.queued > 0 ? ` · ${conversation.queued} queued` : ""}
          </Text>
          <ConversationGit conversation={conversation} lastEndedRunId={lastEndedRunId} busy={busy} canEdit={canEdit} closedReason={closedReason} />
        </Stack>
        <Group gap="xs" wrap="nowrap">
          <Tooltip label={live ? "Live: new events show as they happen" : "Reconnecting to the conversation's events…"}>
            <Badge variant="dot" color={live ? "green" : "gray"} data-testid="chat-live" data-live={live}>
              {live ? "live" : "offline"}
            </Badge>
          </Tooltip>
          <RunStatusBadge status={latest ? statusOf(latest) : conversation.status} size="md" testId="conversation-status" />
        </Group>
      </Group>
      {streamError && !live ? <ErrorAlert error={streamError} title="The live events stopped" /> : null}
      <ScrollArea
        style={{ flex: 1 }}
        viewportRef={viewport}
        onScrollPositionChange={({ y }) => {
          const box = viewport.current;
          if (box) stick.current = box.scrollHeight - (y + box.clientHeight) < STICK_PX;
        }}
        type="auto"
        offsetScrollbars
        aria-label="Transcript"
        data-testid="chat-transcript"
      >
        <Stack gap="lg" pr="xs">
          {runs.length === 0 ? (
            <Text size="sm" c="dimmed">
              No messages yet.
            </Text>
          ) : null}
          {runs.map((run) => (
            <RunView key={run.id} run={run} transcript={transcript.runs[run.id]} canDecide={canEdit} />
          ))}
        </Stack>
      </ScrollArea>
      {canEdit ? (
        <Composer
          onSend={(text) => send.mutateAsync(text)}
          sending={send.isPending}
          sendError={send.error}
          busy={busy}
          onCancel={current ? () => cancel.mutate(current.id) : undefined}
          cancelling={cancel.isPending}
          disabledReason={closedReason}
        />
      ) : (
        <Text size="sm" c="dimmed">
          {closedReason ?? "Viewers read conversations; editors and owners write to the agent."}
        </Text>
      )}
    </Stack>
  );
}
