// The way out for changes: a commit message and Commit (every change, or the files ticked in
// the list), Push (the branch, to its remote), and the branch's pull request — opened here
// the first time, updated (pushed again) after that, its link, state and checks shown.
// Whatever the server refuses shows below with its hint.
import { Anchor, Badge, Button, Card, Checkbox, Divider, Group, Modal, Select, Stack, Text, Textarea, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowUp, IconExternalLink, IconGitCommit, IconGitPullRequest } from "@tabler/icons-react";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { type GitStatus, gitKey, type PullRequest, shortSha, useCommit, useOpenPullRequest, usePullRequest, usePush } from "./queries.ts";

export interface CommitBoxProps {
  sandboxId: string;
  status: GitStatus;
  /** The files the commit takes; null: every change. */
  paths: string[] | null;
  /** How many files the commit takes. */
  count: number;
  branches: string[];
  defaultBranch: string | null;
  canEdit: boolean;
  active: boolean;
}

// Refusals that say pull requests cannot work for this project at all (until its settings change).
const PR_UNAVAILABLE = new Set(["GITHUB_REPOSITORY_UNKNOWN", "GITHUB_TOKEN_MISSING"]);

export function CommitBox({ sandboxId, status, paths, count, branches, defaultBranch, canEdit, active }: CommitBoxProps) {
  const [message, setMessage] = useState("");
  const [failure, setFailure] = useState<{ title: string; error: unknown } | null>(null);
  const [opening, setOpening] = useState(false);
  const commit = useCommit(sandboxId);
  const push = usePush(sandboxId);
  const pr = usePullRequest(sandboxId, active);
  const update = useOpenPullRequest(sandboxId);
  const client = useQueryClient();

  const run = async <T,>(title: string, action: () => Promise<T>): Promise<T | undefined> => {
    setFailure(null);
    try {
      return await action();
    } catch (error) {
      setFailure({ title, error });
      return undefined;
    }
  };
  const doCommit = async () => {
    const done = await run("The commit was not made", () => commit.mutateAsync({ message, ...(paths ? { paths } : {}) }));
    if (!done) return;
    setMessage("");
    notifications.show({ color: "green", title: `Committed ${shortSha(done.sha)}`, message: `${done.subject} (on ${done.branch ?? "a detached HEAD"})` });
  };
  const doPush = async () => {
    const done = await run("The push failed", () => push.mutateAsync());
    if (done)
      notifications.show({
        color: "green",
        title: `Pushed ${done.branch ?? "the branch"}`,
        message: "The project's repository has its commits now.",
      });
  };
  const doUpdate = async () => {
    const done = await run("The pull request was not updated", () => update.mutateAsync({}));
    if (!done) return;
    client.setQueryData(gitKey(sandboxId, "pull-request"), done);
    notifications.show({
      color: "green",
      title: `Pull request #${done.number} updated`,
      message: "The branch is pushed; the pull request shows its latest commits.",
    });
  };

  const onDefault = status.branch !== null && status.branch === defaultBranch;
  const prError = pr.error instanceof ApiError ? pr.error : null;
  const prUnavailable = prError !== null && PR_UNAVAILABLE.has(prError.code);

  return (
    <Card withBorder padding="sm" data-testid="commit-box">
      <Stack gap="xs">
        {canEdit ? (
          <form
            onSubmit={(event) => {
              event.preventDefault();
              if (message.trim() && count > 0) void doCommit();
            }}
          >
            <Stack gap="xs">
              <Textarea
                label="Commit message"
                placeholder="What this change does, in one line; more below it"
                value={message}
                onChange={(event) => setMessage(event.currentTarget.value)}
                onKeyDown={(event) => {
                  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
                    event.preventDefault();
                    event.currentTarget.form?.requestSubmit();
                  }
                }}
                autosize
                minRows={2}
                maxRows={8}
                spellCheck
              />
              <Group gap="xs" justify="space-between">
                <Button
                  type="submit"
                  size="xs"
                  leftSection={<IconGitCommit size={14} aria-hidden />}
                  loading={commit.isPending}
                  disabled={count === 0 || message.trim() === ""}
                  title={count === 0 ? "Nothing to commit" : message.trim() === "" ? "Write a message first" : undefined}
                >
                  {paths === null ? "Commit" : `Commit ${count} ${count === 1 ? "file" : "files"}`}
                </Button>
                <Button
                  size="xs"
                  variant="default"
                  leftSection={<IconArrowUp size={14} aria-hidden />}
                  loading={push.isPending}
                  disabled={status.branch === null || status.head === null}
                  onClick={() => void doPush()}
                  title={status.upstream ? `To ${status.upstream}` : "Publishes the branch to the remote"}
                >
                  {status.upstream ? `Push${status.ahead > 0 ? ` ${status.ahead} ${status.ahead === 1 ? "commit" : "commits"}` : ""}` : "Push branch"}
                </Button>
              </Group>
            </Stack>
          </form>
        ) : (
          <Text size="sm" c="dimmed">
            Commits and pushes take the editor role.
          </Text>
        )}

        <Divider />
        <PullRequestLine pr={pr.data ?? null} loading={pr.isPending && active} />
        {prError && !prUnavailable ? <ErrorAlert error={prError} title="The pull request's state cannot be read" onRetry={() => void pr.refetch()} /> : null}
        {prUnavailable ? (
          <Text size="xs" c="dimmed" data-testid="pull-request-unavailable">
            {prError.message} {prError.hint}
          </Text>
        ) : null}
        {canEdit && !prUnavailable && !pr.isPending ? (
          pr.data ? (
            <Button
              size="xs"
              variant="light"
              leftSection={<IconGitPullRequest size={14} aria-hidden />}
              loading={update.isPending}
              disabled={pr.data.state !== "open"}
              onClick={() => void doUpdate()}
            >
              Update pull request
            </Button>
          ) : onDefault ? (
            <Text size="xs" c="dimmed">
              A pull request needs a branch of its own: create one with the branch menu above.
            </Text>
          ) : (
            <Button
              size="xs"
              variant="light"
              leftSection={<IconGitPullRequest size={14} aria-hidden />}
              disabled={status.branch === null || status.head === null}
              onClick={() => setOpening(true)}
            >
              Open pull request
            </Button>
          )
        ) : null}
        {failure ? <ErrorAlert error={failure.error} title={failure.title} /> : null}
      </Stack>
      <Modal opened={opening} onClose={() => setOpening(false)} title={`Open a pull request for ${status.branch ?? "this branch"}`} size="lg">
        {opening ? (
          <OpenPullRequestForm
            sandboxId={sandboxId}
            branches={branches.filter((b) => b !== status.branch)}
            defaultBranch={defaultBranch}
            onDone={() => setOpening(false)}
          />
        ) : null}
      </Modal>
    </Card>
  );
}

const STATE_COLORS: Record<PullRequest["state"], string> = { open: "green", merged: "grape", closed: "red" };

function PullRequestLine({ pr, loading }: { pr: PullRequest | null; loading: boolean }) {
  if (loading) {
    return (
      <Text size="xs" c="dimmed">
        Looking for the branch's pull request…
      </Text>
    );
  }
  if (!pr) {
    return (
      <Text size="xs" c="dimmed" data-testid="pull-request-none">
        No pull request for this branch yet.
      </Text>
    );
  }
  const { checks } = pr;
  return (
    <Group gap="xs" data-testid="pull-request" data-state={pr.state} data-number={pr.number}>
      <Anchor href={pr.url} target="_blank" rel="noreferrer" size="sm" data-testid="pull-request-link">
        <Group gap={4} wrap="nowrap">
          <IconGitPullRequest size={14} aria-hidden />
          Pull request #{pr.number}
          <IconExternalLink size={12} aria-hidden />
        </Group>
      </Anchor>
      <Badge size="sm" variant="light" color={STATE_COLORS[pr.state]} data-testid="pull-request-state">
        {pr.state}
      </Badge>
      {pr.draft ? (
        <Badge size="sm" variant="outline" color="gray">
          draft
        </Badge>
      ) : null}
      <Text size="xs" c="dimmed">
        {pr.head} → {pr.base}
      </Text>
      {checks.total > 0 ? (
        <Text size="xs" c={checks.failed > 0 ? "red" : checks.pending > 0 ? "yellow" : "green"} data-testid="pull-request-checks">
          {checks.failed > 0 ? `${checks.failed} failed` : checks.pending > 0 ? `${checks.pending} pending` : "checks passed"} · {checks.passed}/{checks.total}{" "}
          passed
        </Text>
      ) : null}
    </Group>
  );
}

function OpenPullRequestForm({
  sandboxId,
  branches,
  defaultBranch,
  onDone,
}: {
  sandboxId: string;
  branches: string[];
  defaultBranch: string | null;
  onDone: () => void;
}) {
  const [title, setTitle] = useState("");
  const [body, setBody] = useState("");
  const [base, setBase] = useState<string | null>(defaultBranch);
  const [draft, setDraft] = useState(false);
  const open = useOpenPullRequest(sandboxId);
  const client = useQueryClient();
  const submit = async () => {
    try {
      const pr = await open.mutateAsync({
        ...(title.trim() ? { title: title.trim() } : {}),
        ...(body.trim() ? { body } : {}),
        ...(base ? { base } : {}),
        draft,
      });
      client.setQueryData(gitKey(sandboxId, "pull-request"), pr);
      notifications.show({ color: "green", title: `Pull request #${pr.number} opened`, message: pr.url });
      onDone();
    } catch {
      // Shown below from the mutation's error.
    }
  };
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <Stack>
        <Text size="sm" c="dimmed">
          The branch is pushed first. Left empty, the title and description are drafted from the conversation that worked on it.
        </Text>
        <TextInput
          label="Title"
          placeholder="Drafted from the conversation"
          value={title}
          onChange={(e) => setTitle(e.currentTarget.value)}
          maxLength={256}
          data-autofocus
        />
        <Textarea
          label="Description"
          placeholder="Drafted from the conversation"
          value={body}
          onChange={(e) => setBody(e.currentTarget.value)}
          autosize
          minRows={3}
          maxRows={12}
        />
        <Select
          label="Merge into"
          data={[...new Set([...(defaultBranch ? [defaultBranch] : []), ...branches])]}
          value={base}
          onChange={setBase}
          searchable
          allowDeselect={false}
          placeholder={defaultBranch ?? "The default branch"}
          nothingFoundMessage="No such branch here; the remote may still have it"
        />
        <Checkbox label="Open it as a draft" checked={draft} onChange={(e) => setDraft(e.currentTarget.checked)} />
        {open.error ? <ErrorAlert error={open.error} title="The pull request was not opened" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={open.isPending} leftSection={<IconGitPullRequest size={14} aria-hidden />}>
            Open pull request
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
