// Branches: copies of the database (made for a conversation, or here), where a risky
// migration can run without touching the real data. Promoting one makes it the project's
// database (the current one is dropped, hence the typed confirmation); dropping one throws
// the copy away.
import { Badge, Button, Card, Code, Group, Modal, Stack, Table, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconGitBranch } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago, exactTime } from "../../format.ts";
import { type DatabaseBranches, databaseKey, useDatabaseBranches } from "./queries.ts";
import { TypedConfirmForm } from "./TypedConfirmForm.tsx";

type Branch = DatabaseBranches["items"][number];

export function BranchesCard({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const branches = useDatabaseBranches(project.id, true);
  const [promoting, setPromoting] = useState<Branch | null>(null);
  const refresh = () => client.invalidateQueries({ queryKey: databaseKey(project.id) });
  const make = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects/{id}/database/branches", { params: { path: { id: project.id } }, body: {} })),
    onSuccess: async (made) => {
      notifications.show({ color: "green", title: "Branch made", message: made.name });
      await refresh();
    },
  });
  const drop = useMutation({
    mutationFn: async (branch: Branch) =>
      unwrap(await api.DELETE("/api/v1/projects/{id}/database/branches/{dbid}", { params: { path: { id: project.id, dbid: branch.id } } })),
    onSuccess: refresh,
  });
  const items = branches.data?.items ?? [];

  return (
    <Card withBorder padding="md" aria-labelledby="database-branches-title" data-testid="database-branches">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id="database-branches-title">
            Branches
          </Title>
          {canEdit ? (
            <Button size="xs" variant="default" leftSection={<IconGitBranch size={14} aria-hidden />} loading={make.isPending} onClick={() => make.mutate()}>
              Branch now
            </Button>
          ) : null}
        </Group>
        <Text size="sm" c="dimmed">
          Copies of the database as it was when made; they change apart from it.
        </Text>
        {branches.error ? <ErrorAlert error={branches.error} title="The branches cannot be listed" onRetry={() => void branches.refetch()} /> : null}
        {make.error ? <ErrorAlert error={make.error} title="No branch was made" /> : null}
        {drop.error ? <ErrorAlert error={drop.error} title="The branch was not dropped" /> : null}
        {branches.data && items.length === 0 ? (
          <Text size="sm" c="dimmed">
            No branches.
          </Text>
        ) : null}
        {items.length > 0 ? (
          <Table verticalSpacing={6} aria-label="Branches">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Conversation</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Made</Table.Th>
                {canEdit ? <Table.Th /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((b) => (
                <Table.Tr key={b.id} data-testid="database-branch">
                  <Table.Td>
                    <Code>{b.name}</Code>
                  </Table.Td>
                  <Table.Td>{b.conversationId ? <Code>{b.conversationId}</Code> : "—"}</Table.Td>
                  <Table.Td>
                    <Badge size="sm" variant="light" color={b.status === "ready" ? "green" : "orange"}>
                      {b.status}
                    </Badge>
                  </Table.Td>
                  <Table.Td title={exactTime(b.createdAt)}>{ago(b.createdAt)}</Table.Td>
                  {canEdit ? (
                    <Table.Td>
                      <Group gap="xs" justify="flex-end" wrap="nowrap">
                        <Button size="compact-xs" variant="default" onClick={() => setPromoting(b)}>
                          Promote…
                        </Button>
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          color="red"
                          loading={drop.isPending && drop.variables?.id === b.id}
                          onClick={() => drop.mutate(b)}
                        >
                          Drop
                        </Button>
                      </Group>
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Stack>
      <Modal opened={promoting !== null} onClose={() => setPromoting(null)} title="Promote this branch?">
        {promoting ? <PromoteForm project={project} branch={promoting} onClose={() => setPromoting(null)} onDone={refresh} /> : null}
      </Modal>
    </Card>
  );
}

function PromoteForm({ project, branch, onClose, onDone }: { project: Project; branch: Branch; onClose: () => void; onDone: () => Promise<void> }) {
  const promote = useMutation({
    mutationFn: async (typed: string) =>
      unwrap(
        await api.POST("/api/v1/projects/{id}/database/branches/{dbid}/promote", {
          params: { path: { id: project.id, dbid: branch.id } },
          body: { confirm: typed },
        }),
      ),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Branch promoted", message: `${branch.name} is the project's database now.` });
      await onDone();
      onClose();
    },
  });
  return (
    <TypedConfirmForm
      name={project.name}
      explanation={
        <Text size="sm">
          <Code>{branch.name}</Code> becomes the project's database; the current one is dropped with its data. Sandboxes started from now on use the branch.
        </Text>
      }
      action="Promote"
      pending={promote.isPending}
      error={promote.error}
      errorTitle="The branch was not promoted"
      onConfirm={(typed) => promote.mutate(typed)}
      onClose={onClose}
    />
  );
}
