// The sandbox's checkpoints, newest first: the working tree as it was before each agent turn
// (and before each restore, and when someone asked). Diff shows what changed since one;
// Restore brings every file back to it after a confirmation, and since the current state is
// checkpointed first, the restore can be undone from the note it leaves.
import { Alert, Badge, Button, Card, Group, Modal, Skeleton, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconArrowBackUp, IconCamera, IconHistory } from "@tabler/icons-react";
import { useState } from "react";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago, exactTime } from "../../format.ts";
import { DiffList } from "./DiffView.tsx";
import { type GitCheckpoint, shortSha, useCheckpointDiff, useCheckpoints, useCreateCheckpoint, useRestoreCheckpoint } from "./queries.ts";

const REASONS: Record<GitCheckpoint["reason"], { label: string; color: string }> = {
  turn: { label: "before a turn", color: "blue" },
  "before-restore": { label: "before a restore", color: "orange" },
  manual: { label: "manual", color: "gray" },
};

export function CheckpointList({ sandboxId, canEdit, active }: { sandboxId: string; canEdit: boolean; active: boolean }) {
  const list = useCheckpoints(sandboxId, active);
  const restore = useRestoreCheckpoint(sandboxId);
  const create = useCreateCheckpoint(sandboxId);
  const [diffOf, setDiffOf] = useState<GitCheckpoint | null>(null);
  const [confirm, setConfirm] = useState<GitCheckpoint | null>(null);
  const [restored, setRestored] = useState<{ restored: GitCheckpoint; undo: GitCheckpoint } | null>(null);
  const [failure, setFailure] = useState<{ title: string; error: unknown } | null>(null);

  const doRestore = async (target: GitCheckpoint) => {
    setConfirm(null);
    setFailure(null);
    try {
      setRestored(await restore.mutateAsync(target.id));
    } catch (error) {
      setFailure({ title: "The checkpoint was not restored", error });
    }
  };
  const undo = async () => {
    if (!restored) return;
    setFailure(null);
    try {
      await restore.mutateAsync(restored.undo.id);
      setRestored(null);
      notifications.show({ color: "green", title: "Restore undone", message: "The files are back as they were before the restore." });
    } catch (error) {
      setFailure({ title: "The restore was not undone", error });
    }
  };
  const checkpointNow = async () => {
    setFailure(null);
    try {
      await create.mutateAsync();
    } catch (error) {
      setFailure({ title: "No checkpoint was taken", error });
    }
  };

  const items = [...(list.data ?? [])].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return (
    <Card withBorder padding="sm" component="section" aria-labelledby="checkpoints-title" data-testid="checkpoints">
      <Stack gap="xs">
        <Group justify="space-between">
          <Group gap={6}>
            <IconHistory size={16} aria-hidden />
            <Title order={3} size="h5" id="checkpoints-title">
              Checkpoints
            </Title>
          </Group>
          {canEdit ? (
            <Button
              size="xs"
              variant="subtle"
              leftSection={<IconCamera size={14} aria-hidden />}
              loading={create.isPending}
              onClick={() => void checkpointNow()}
            >
              Checkpoint now
            </Button>
          ) : null}
        </Group>
        <Text size="xs" c="dimmed">
          Taken before every agent turn, with uncommitted and untracked files; kept outside the sandbox and never pushed.
        </Text>
        {restored ? (
          <Alert color="green" variant="light" title="Checkpoint restored" data-testid="restore-done" role="status">
            <Group justify="space-between" gap="xs">
              <Text size="sm">The files are as they were {ago(restored.restored.createdAt)}. The state before the restore is kept as a checkpoint.</Text>
              <Button size="xs" variant="white" leftSection={<IconArrowBackUp size={14} aria-hidden />} loading={restore.isPending} onClick={() => void undo()}>
                Undo
              </Button>
            </Group>
          </Alert>
        ) : null}
        {failure ? <ErrorAlert error={failure.error} title={failure.title} /> : null}
        {list.error ? <ErrorAlert error={list.error} title="The checkpoints cannot be listed" onRetry={() => void list.refetch()} /> : null}
        {list.isPending ? (
          <Skeleton h={80} />
        ) : items.length === 0 ? (
          <Text size="sm" c="dimmed">
            None yet: the first agent turn takes one.
          </Text>
        ) : (
          <Table verticalSpacing={4} aria-label="Checkpoints">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Taken</Table.Th>
                <Table.Th>Why</Table.Th>
                <Table.Th>Branch</Table.Th>
                <Table.Th ta="right">Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((c) => (
                <Table.Tr key={c.id} data-testid="checkpoint" data-checkpoint-id={c.id} data-reason={c.reason}>
                  <Table.Td>
                    <Text size="sm" title={`${exactTime(c.createdAt)} · ${c.id}`}>
                      {ago(c.createdAt)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant="light" color={REASONS[c.reason].color}>
                      {REASONS[c.reason].label}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs" ff="monospace" c="dimmed">
                      {c.branch ?? "detached"} @ {shortSha(c.headSha)}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} justify="flex-end" wrap="nowrap">
                      <Button size="compact-xs" variant="default" onClick={() => setDiffOf(c)}>
                        Diff
                      </Button>
                      {canEdit ? (
                        <Button size="compact-xs" variant="light" color="orange" onClick={() => setConfirm(c)} disabled={restore.isPending}>
                          Restore
                        </Button>
                      ) : null}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </Stack>

      <Modal
        opened={diffOf !== null}
        onClose={() => setDiffOf(null)}
        title={diffOf ? `Changes since the checkpoint of ${ago(diffOf.createdAt)}` : ""}
        size="90%"
      >
        {diffOf ? <CheckpointDiff sandboxId={sandboxId} checkpoint={diffOf} /> : null}
      </Modal>
      <Modal opened={confirm !== null} onClose={() => setConfirm(null)} title="Restore this checkpoint?">
        <Stack>
          <Text size="sm">
            Every file in the repository goes back to how it was {confirm ? ago(confirm.createdAt) : ""}: later edits are undone, files made since are deleted,
            and the branch moves back to <code>{confirm ? shortSha(confirm.headSha) : ""}</code>. Ignored files stay as they are.
          </Text>
          <Text size="sm">The current state is checkpointed first, so you can undo this.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)} data-autofocus>
              Cancel
            </Button>
            <Button color="orange" onClick={() => confirm && void doRestore(confirm)}>
              Restore checkpoint
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

function CheckpointDiff({ sandboxId, checkpoint }: { sandboxId: string; checkpoint: GitCheckpoint }) {
  const diff = useCheckpointDiff(sandboxId, checkpoint.id);
  if (diff.error) return <ErrorAlert error={diff.error} title="The diff cannot be shown" onRetry={() => void diff.refetch()} />;
  if (!diff.data) return <Skeleton h={200} />;
  return (
    <div data-testid="checkpoint-diff">
      <DiffList diff={diff.data} empty="Nothing changed since this checkpoint." />
    </div>
  );
}
