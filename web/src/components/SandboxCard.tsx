// One sandbox: its phase, the verbs that make sense in it, and its provisioning stages with
// their state, duration and message; a failure with its reason and the hint on what to do.
import { Alert, Anchor, Badge, Button, Card, Checkbox, Code, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAlertTriangle, IconPlayerPlay, IconPlayerStop, IconRefresh, IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { ApiError, api, type Sandbox, unwrap } from "../api/client.ts";
import { ago, exactTime } from "../format.ts";
import { paths } from "../routes.tsx";
import { PhaseBadge } from "./PhaseBadge.tsx";
import { StageList } from "./StageList.tsx";

type Verb = "start" | "stop" | "restart";

export function SandboxCard({ sandbox, canEdit }: { sandbox: Sandbox; canEdit: boolean }) {
  const client = useQueryClient();
  const [confirmDelete, setConfirmDelete] = useState(false);
  const verb = useMutation({
    mutationFn: async (action: Verb) => {
      const path = { params: { path: { id: sandbox.id } }, body: {} };
      if (action === "start") return unwrap(await api.POST("/api/v1/sandboxes/{id}/start", path));
      if (action === "stop") return unwrap(await api.POST("/api/v1/sandboxes/{id}/stop", path));
      return unwrap(await api.POST("/api/v1/sandboxes/{id}/restart", path));
    },
    onSuccess: () => client.invalidateQueries({ queryKey: ["sandboxes"] }),
    onError: (error) =>
      notifications.show({
        color: "red",
        title: "The sandbox did not take that",
        message: error instanceof ApiError ? `${error.message} ${error.hint}` : String(error),
      }),
  });

  const { phase, desired } = sandbox;
  const gone = desired === "deleted";
  const canStart = !gone && (phase === "stopped" || phase === "failed" || desired === "stopped");
  const canStop = !gone && desired === "running" && phase !== "stopped";
  const canRestart = !gone && phase === "running";

  return (
    <Card withBorder padding="md" aria-label={`Sandbox ${sandbox.name}`} component="section">
      <Stack gap="sm">
        <Group justify="space-between" wrap="nowrap" align="flex-start">
          <Stack gap={2}>
            <Group gap="xs">
              <Anchor component={Link} to={paths.sandbox(sandbox.id)} fw={600} ff="monospace">
                {sandbox.name}
              </Anchor>
              <PhaseBadge phase={phase} waking={sandbox.waking} />
              {sandbox.primary ? (
                <Badge variant="outline" size="sm" color="gray">
                  primary
                </Badge>
              ) : null}
              {desired !== "running" && phase !== desired ? (
                <Text size="xs" c="dimmed">
                  → {desired}
                </Text>
              ) : null}
            </Group>
            <Text size="xs" c="dimmed" title={exactTime(sandbox.createdAt)}>
              {sandbox.driver} · created {ago(sandbox.createdAt)}
              {sandbox.stoppedReason === "idle" ? " · stopped while idle: the next request wakes it" : ""}
            </Text>
          </Stack>
          <Group gap="xs" wrap="nowrap">
            <Button size="xs" variant="light" component={Link} to={paths.sandbox(sandbox.id)} disabled={gone}>
              Open
            </Button>
            {canEdit ? (
              <>
                {canStart ? (
                  <Button size="xs" variant="default" leftSection={<IconPlayerPlay size={14} aria-hidden />} onClick={() => verb.mutate("start")}>
                    Start
                  </Button>
                ) : null}
                {canStop ? (
                  <Button size="xs" variant="default" leftSection={<IconPlayerStop size={14} aria-hidden />} onClick={() => verb.mutate("stop")}>
                    Stop
                  </Button>
                ) : null}
                {canRestart ? (
                  <Button size="xs" variant="default" leftSection={<IconRefresh size={14} aria-hidden />} onClick={() => verb.mutate("restart")}>
                    Restart
                  </Button>
                ) : null}
                {!gone ? (
                  <Button
                    size="xs"
                    variant="subtle"
                    color="red"
                    leftSection={<IconTrash size={14} aria-hidden />}
                    onClick={() => setConfirmDelete(true)}
                    aria-label={`Delete ${sandbox.name}`}
                  >
                    Delete
                  </Button>
                ) : null}
              </>
            ) : null}
          </Group>
        </Group>

        <StageList stages={sandbox.stages} />

        {sandbox.error ? (
          <Alert color="red" variant="light" icon={<IconAlertTriangle aria-hidden />} title={sandbox.error.message} role="alert">
            {sandbox.error.hint ? <Text size="sm">{sandbox.error.hint}</Text> : null}
            <Group gap="xs" mt={4}>
              <Code>{sandbox.error.code}</Code>
              {sandbox.error.nextAttemptAt ? (
                <Text size="xs" c="dimmed">
                  Outpost tries again {ago(sandbox.error.nextAttemptAt)}.
                </Text>
              ) : null}
            </Group>
          </Alert>
        ) : null}
      </Stack>
      <DeleteSandboxDialog
        sandbox={sandbox}
        opened={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        onConfirm={(keepWorkspace) => {
          setConfirmDelete(false);
          void api
            .DELETE("/api/v1/sandboxes/{id}", { params: { path: { id: sandbox.id }, query: keepWorkspace ? { keepWorkspace: "true" } : {} } })
            .then(unwrap)
            .then(
              () => client.invalidateQueries({ queryKey: ["sandboxes"] }),
              (error: unknown) => notifications.show({ color: "red", title: "The sandbox was not deleted", message: String(error) }),
            );
        }}
      />
    </Card>
  );
}

function DeleteSandboxDialog(props: { sandbox: Sandbox; opened: boolean; onClose: () => void; onConfirm: (keepWorkspace: boolean) => void }) {
  const [keep, setKeep] = useState(false);
  return (
    <Modal opened={props.opened} onClose={props.onClose} title={`Delete ${props.sandbox.name}?`}>
      <Stack>
        <Text size="sm">Its processes stop and it is removed. Unless kept, its workspace and home folder are deleted too.</Text>
        <Checkbox label="Keep the workspace for the project's next sandbox" checked={keep} onChange={(e) => setKeep(e.currentTarget.checked)} />
        <Group justify="flex-end">
          <Button variant="default" onClick={props.onClose}>
            Cancel
          </Button>
          <Button color="red" onClick={() => props.onConfirm(keep)} data-autofocus>
            Delete sandbox
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}
