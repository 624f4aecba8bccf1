// The Changes tab: the sandbox's repository as a reviewer sees it. The branch (and a menu to
// switch or create one), the changed files, their diffs (unified or side by side), a commit
// box with push and the branch's pull request, and the checkpoints taken before agent turns.
// It stays current without polling: an agent run's events make it stale (api/live.ts), every
// write here refreshes it, and Refresh is there for changes made in a terminal.
import { Alert, Box, Button, Card, Group, Skeleton, Stack, Text, Title } from "@mantine/core";
import { IconRefresh } from "@tabler/icons-react";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { BranchSwitcher } from "./changes/BranchSwitcher.tsx";
import { CheckpointList } from "./changes/CheckpointList.tsx";
import { CommitBox } from "./changes/CommitBox.tsx";
import { DiffList } from "./changes/DiffView.tsx";
import { gitKey, useBranches, useGitStatus, useWorktreeDiff } from "./changes/queries.ts";
import { StatusList } from "./changes/StatusList.tsx";
import type { SandboxTabProps } from "./types.ts";

export default function ChangesTab({ sandbox, canEdit, active }: SandboxTabProps) {
  if (sandbox.phase !== "running") {
    return (
      <Alert color="gray" title="The sandbox is not running" role="status">
        Git runs in the sandbox, on its workspace: start it to see and commit changes. Checkpoints stay kept meanwhile.
      </Alert>
    );
  }
  return <Changes sandboxId={sandbox.id} canEdit={canEdit} active={active} />;
}

function Changes({ sandboxId, canEdit, active }: { sandboxId: string; canEdit: boolean; active: boolean }) {
  const client = useQueryClient();
  const status = useGitStatus(sandboxId, active);
  const diff = useWorktreeDiff(sandboxId, active);
  const branches = useBranches(sandboxId, active);
  const [selected, setSelected] = useState<string | null>(null);
  // Files left out of the next commit (by default it takes every change).
  const [excluded, setExcluded] = useState<ReadonlySet<string>>(new Set());

  const refresh = () => void client.invalidateQueries({ queryKey: gitKey(sandboxId) });
  const fetching = status.isFetching || diff.isFetching;

  if (status.error && !status.data) {
    return <ErrorAlert error={status.error} title="The repository's status cannot be read" onRetry={refresh} />;
  }
  if (!status.data) return <Skeleton h={300} />;
  const s = status.data;
  // A file the list no longer has is neither selected nor excluded any more.
  const present = new Set(s.files.map((f) => f.path));
  const shown = selected && present.has(selected) ? selected : null;
  const left = s.files.filter((f) => excluded.has(f.path));
  const taken = s.files.filter((f) => !excluded.has(f.path));
  // A rename is committed as both of its sides.
  const paths = left.length === 0 ? null : taken.flatMap((f) => (f.oldPath ? [f.oldPath, f.path] : [f.path]));
  const branchNames = (branches.data?.branches ?? []).map((b) => b.name);

  return (
    <Stack gap="md" data-testid="changes-tab">
      <Group justify="space-between" gap="sm">
        <BranchSwitcher
          sandboxId={sandboxId}
          status={s}
          branches={branches.data?.branches ?? []}
          defaultBranch={branches.data?.defaultBranch ?? null}
          canEdit={canEdit}
        />
        <Button size="xs" variant="subtle" leftSection={<IconRefresh size={14} aria-hidden />} loading={fetching} onClick={refresh}>
          Refresh
        </Button>
      </Group>
      {status.error ? <ErrorAlert error={status.error} title="The status shown may be out of date" onRetry={refresh} /> : null}
      <Group align="flex-start" gap="md" wrap="nowrap">
        <Stack w={340} gap="sm" style={{ flexShrink: 0 }}>
          <Card withBorder padding={0} component="section" aria-labelledby="changes-files-title">
            <Group justify="space-between" px="sm" py={6} style={{ borderBottom: "1px solid var(--mantine-color-default-border)" }}>
              <Title order={3} size="h5" id="changes-files-title">
                Changed files
              </Title>
              <Text size="xs" c="dimmed" data-testid="changes-count">
                {s.files.length === 0 ? "clean" : `${s.files.length} ${s.files.length === 1 ? "file" : "files"}`}
              </Text>
            </Group>
            <StatusList
              status={s}
              selected={shown}
              onSelect={setSelected}
              excluded={canEdit ? excluded : null}
              onToggle={(path, include) =>
                setExcluded((all) => {
                  const next = new Set(all);
                  if (include) next.delete(path);
                  else next.add(path);
                  return next;
                })
              }
            />
          </Card>
          <CommitBox
            sandboxId={sandboxId}
            status={s}
            paths={paths}
            count={taken.length}
            branches={branchNames}
            defaultBranch={branches.data?.defaultBranch ?? null}
            canEdit={canEdit}
            active={active}
          />
        </Stack>
        <Box style={{ flex: 1, minWidth: 0 }}>
          {diff.error ? (
            <ErrorAlert error={diff.error} title="The diff cannot be shown" onRetry={() => void diff.refetch()} />
          ) : !diff.data ? (
            <Skeleton h={200} />
          ) : (
            <Stack gap="xs">
              {shown ? (
                <Group gap="xs">
                  <Text size="sm" c="dimmed">
                    Showing one file.
                  </Text>
                  <Button size="compact-xs" variant="subtle" onClick={() => setSelected(null)}>
                    Show every file
                  </Button>
                </Group>
              ) : null}
              <DiffList
                diff={diff.data}
                only={shown}
                empty={s.files.length === 0 ? "Nothing to show: no uncommitted changes." : "No text changes in this file."}
              />
            </Stack>
          )}
        </Box>
      </Group>
      <CheckpointList sandboxId={sandboxId} canEdit={canEdit} active={active} />
    </Stack>
  );
}
