// A conversation's place in git, as one line under its title: the branch its turns work on
// (and its own worktree, when it has one) and its pull request — a link with its state and
// checks, or an "Open pull request" button once a turn has made the branch. The pull
// request's state is read from GitHub when the conversation opens and after each turn ends;
// when GitHub cannot be asked (no token, not a GitHub repository) the stored state stays.
import { Anchor, Badge, Button, Code, Group, Text, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconExternalLink, IconFolder, IconGitBranch, IconGitPullRequest } from "@tabler/icons-react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, type Schemas, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import type { ConversationDetail } from "./types.ts";

type PullRequest = Schemas["PullRequest"];
type StoredPullRequest = NonNullable<ConversationDetail["pullRequest"]>;

const STATE_COLORS: Record<PullRequest["state"], string> = { open: "green", merged: "grape", closed: "red" };

/** What asking GitHub said: the pull request, none yet (one can be opened), or cannot ask. */
type Refreshed = { kind: "found"; pr: PullRequest } | { kind: "none" } | { kind: "unavailable"; error: ApiError };

const refreshKey = (conversationId: string, afterRun: string | null) => ["conversation-pull-request", conversationId, afterRun];

/** The pull request as GitHub has it now; read again for each turn that ends (`afterRun`). */
function useRefreshedPullRequest(sandboxId: string, conversationId: string, afterRun: string | null, enabled: boolean) {
  return useQuery({
    queryKey: refreshKey(conversationId, afterRun),
    enabled,
    retry: false,
    staleTime: Number.POSITIVE_INFINITY,
    placeholderData: keepPreviousData,
    queryFn: async (): Promise<Refreshed> => {
      try {
        const pr = unwrap(await api.GET("/api/v1/sandboxes/{id}/git/pull-request", { params: { path: { id: sandboxId }, query: { conversationId } } }));
        return { kind: "found", pr };
      } catch (error) {
        if (error instanceof ApiError && error.code === "PULL_REQUEST_NOT_FOUND") return { kind: "none" };
        // 409 (no token, not GitHub, no repository) and the like: keep what is stored.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) return { kind: "unavailable", error };
        throw error;
      }
    },
  });
}

export function ConversationGit({
  conversation,
  lastEndedRunId,
  busy,
  canEdit,
  closedReason,
}: {
  conversation: ConversationDetail;
  /** The latest run that has ended (null before any): each new one refreshes the pull request. */
  lastEndedRunId: string | null;
  busy: boolean;
  canEdit: boolean;
  closedReason: string | null;
}) {
  const client = useQueryClient();
  const hasBranch = conversation.branch !== null;
  const refreshed = useRefreshedPullRequest(conversation.sandboxId, conversation.id, lastEndedRunId, hasBranch);
  const open = useMutation({
    mutationFn: async () =>
      unwrap(
        await api.POST("/api/v1/sandboxes/{id}/git/pull-request", {
          params: { path: { id: conversation.sandboxId } },
          body: { conversationId: conversation.id },
        }),
      ),
    onSuccess: async (pr) => {
      const found: Refreshed = { kind: "found", pr };
      client.setQueryData(refreshKey(conversation.id, lastEndedRunId), found);
      notifications.show({ color: "green", title: `Pull request #${pr.number} opened`, message: pr.url });
      await client.invalidateQueries({ queryKey: ["conversation", conversation.id] });
    },
  });

  if (!hasBranch && !conversation.worktree) return null;
  const answer = refreshed.data;
  const pr: PullRequest | StoredPullRequest | null = answer?.kind === "found" ? answer.pr : conversation.pullRequest;
  // A branch exists once a turn ran; GitHub said there is no pull request for it yet.
  const canOpen = canEdit && !pr && answer?.kind === "none" && lastEndedRunId !== null;

  return (
    <Group gap="xs" wrap="wrap" data-testid="conversation-git">
      {conversation.branch ? (
        <Tooltip label={conversation.baseBranch ? `Branched from ${conversation.baseBranch}` : "The branch this conversation's turns work on"}>
          <Group gap={4} wrap="nowrap" data-testid="conversation-branch" data-branch={conversation.branch}>
            <IconGitBranch size={14} aria-hidden />
            <Code>{conversation.branch}</Code>
          </Group>
        </Tooltip>
      ) : null}
      {conversation.worktree ? (
        <Tooltip label="Its own worktree: other conversations do not touch these files">
          <Group gap={4} wrap="nowrap" data-testid="conversation-worktree" data-worktree={conversation.worktree}>
            <IconFolder size={14} aria-hidden />
            <Code>{conversation.worktree}</Code>
          </Group>
        </Tooltip>
      ) : null}
      {pr ? <PullRequestBadge pr={pr} /> : null}
      {canOpen ? (
        <Tooltip label={closedReason ?? (busy ? "Wait for the turn to end" : "Push the branch and open its pull request, drafted from this conversation")}>
          <Button
            size="compact-xs"
            variant="light"
            leftSection={<IconGitPullRequest size={12} aria-hidden />}
            loading={open.isPending}
            disabled={closedReason !== null || busy}
            onClick={() => open.mutate()}
          >
            Open pull request
          </Button>
        </Tooltip>
      ) : null}
      {open.error ? <ErrorAlert error={open.error} title="The pull request was not opened" /> : null}
    </Group>
  );
}

function PullRequestBadge({ pr }: { pr: PullRequest | StoredPullRequest }) {
  const { checks } = pr;
  return (
    <Group gap={6} wrap="nowrap" data-testid="conversation-pull-request" data-state={pr.state} data-number={pr.number}>
      <Anchor
        href={pr.url}
        target="_blank"
        rel="noreferrer"
        size="xs"
        aria-label={`Pull request #${pr.number} (${pr.state})`}
        data-testid="conversation-pull-request-link"
      >
        <Group gap={4} wrap="nowrap">
          <IconGitPullRequest size={14} aria-hidden />#{pr.number}
          <IconExternalLink size={12} aria-hidden />
        </Group>
      </Anchor>
      <Badge size="xs" variant="light" color={STATE_COLORS[pr.state]} data-testid="conversation-pull-request-state">
        {pr.draft && pr.state === "open" ? "draft" : pr.state}
      </Badge>
      {checks.total > 0 ? (
        <Text size="xs" c={checks.failed > 0 ? "red" : checks.pending > 0 ? "yellow" : "green"} data-testid="conversation-pull-request-checks">
          {checks.failed > 0 ? `${checks.failed} failed` : checks.pending > 0 ? `${checks.pending} pending` : "checks passed"} · {checks.passed}/{checks.total}
        </Text>
      ) : null}
    </Group>
  );
}
