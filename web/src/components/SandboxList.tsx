// A project's sandboxes, each with its provisioning stages as they happen.
import { Button, Card, Group, Skeleton, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, idempotencyKey, type Project, unwrap } from "../api/client.ts";
import { useSandboxes } from "../api/queries.ts";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { SandboxCard } from "./SandboxCard.tsx";

export function SandboxList({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const sandboxes = useSandboxes(project.id);
  // One key per intended sandbox: a retry after a dropped answer makes no second one.
  const [key, setKey] = useState(idempotencyKey);
  const create = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/projects/{id}/sandboxes", { params: { path: { id: project.id } }, headers: { "idempotency-key": key }, body: {} })),
    onSuccess: async (sandbox) => {
      setKey(idempotencyKey());
      notifications.show({ title: "Sandbox created", message: `${sandbox.name} is starting` });
      await client.invalidateQueries({ queryKey: ["sandboxes"] });
    },
  });

  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Title order={2} size="h3">
          Sandboxes
        </Title>
        {canEdit ? (
          <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => create.mutate()} loading={create.isPending}>
            New sandbox
          </Button>
        ) : null}
      </Group>
      {create.error ? <ErrorAlert error={create.error} title="The sandbox was not created" /> : null}
      {sandboxes.error ? <ErrorAlert error={sandboxes.error} onRetry={() => void sandboxes.refetch()} /> : null}
      {sandboxes.isPending ? <Skeleton h={120} /> : null}
      {sandboxes.data?.length === 0 ? (
        <Card withBorder padding="lg">
          <Text size="sm" c="dimmed">
            No sandboxes. A sandbox is an isolated machine with the project's workspace, where agents and people run commands.
          </Text>
        </Card>
      ) : null}
      {sandboxes.data?.map((sandbox) => (
        <SandboxCard key={sandbox.id} sandbox={sandbox} canEdit={canEdit} />
      ))}
    </Stack>
  );
}
