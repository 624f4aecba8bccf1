// The project's SSH deploy key: its public half to add to the repository (with write access,
// to push), its fingerprint and the host keys pinned with it. The private half never leaves
// the host; sandboxes sign through an agent the control plane serves. Editors make the key,
// or a new one in its place (the old one stops working at once, hence the confirm).
import { ActionIcon, Alert, Button, Card, Code, CopyButton, Group, Modal, Stack, Text, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCheck, IconCopy, IconKey } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, api, type Project, type Schemas, unwrap } from "../api/client.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago, exactTime } from "../format.ts";

type DeployKey = Schemas["DeployKey"];

const deployKeyKey = (projectId: string) => ["deploy-key", projectId];

/** The project's key, or null before it has one. */
const useDeployKey = (projectId: string) =>
  useQuery({
    queryKey: deployKeyKey(projectId),
    queryFn: async (): Promise<DeployKey | null> => {
      try {
        return unwrap(await api.GET("/api/v1/projects/{id}/git/deploy-key", { params: { path: { id: projectId } } }));
      } catch (error) {
        if (error instanceof ApiError && error.code === "DEPLOY_KEY_NOT_FOUND") return null;
        throw error;
      }
    },
  });

export function DeployKeyCard({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const key = useDeployKey(project.id);
  const [confirming, setConfirming] = useState(false);
  const [warning, setWarning] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects/{id}/git/deploy-key", { params: { path: { id: project.id } }, body: {} })),
    onSuccess: async (made) => {
      setConfirming(false);
      setWarning(made.warning ?? null);
      client.setQueryData(deployKeyKey(project.id), made);
      notifications.show({ color: "green", title: "Deploy key made", message: "Add it to the repository with write access." });
      // Host keys may have been pinned with it.
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });
  const sshRepository = project.repoUrl !== null && !/^https?:\/\//i.test(project.repoUrl);

  return (
    <Card withBorder padding="md" aria-labelledby="deploy-key-title" data-testid="deploy-key">
      <Stack gap="sm">
        <Group justify="space-between">
          <Title order={2} size="h4" id="deploy-key-title">
            SSH deploy key
          </Title>
          {canEdit && key.data ? (
            <Button variant="default" size="xs" onClick={() => setConfirming(true)}>
              Rotate key…
            </Button>
          ) : null}
        </Group>
        <Text size="sm" c="dimmed">
          {sshRepository
            ? "The repository is reached over SSH: sandboxes log in with this key through an agent Outpost serves; the private key never enters them."
            : "Used when the repository is reached over SSH (ssh:// or git@host:path); over HTTPS the token credential is used instead."}
        </Text>
        {key.error ? <ErrorAlert error={key.error} title="The deploy key cannot be shown" onRetry={() => void key.refetch()} /> : null}
        {key.data === null ? (
          <Group gap="sm" data-testid="deploy-key-none">
            <Text size="sm">No key yet.</Text>
            {canEdit ? (
              <Button size="xs" leftSection={<IconKey size={14} aria-hidden />} loading={create.isPending} onClick={() => create.mutate()}>
                Create deploy key
              </Button>
            ) : null}
          </Group>
        ) : null}
        {key.data ? <KeyDetails deployKey={key.data} sshRepository={sshRepository} /> : null}
        {warning ? (
          <Alert color="yellow" variant="light" title="Made, with a warning" data-testid="deploy-key-warning">
            <Text size="sm">{warning}</Text>
          </Alert>
        ) : null}
        {create.error && !confirming ? <ErrorAlert error={create.error} title="No key was made" /> : null}
      </Stack>
      <Modal opened={confirming} onClose={() => setConfirming(false)} title="Make a new deploy key?">
        <Stack gap="sm">
          <Text size="sm">
            The current key stops working at once: sandboxes cannot reach the repository over SSH until the new key is added to it. Remove the old key from the
            repository afterwards.
          </Text>
          {create.error ? <ErrorAlert error={create.error} title="No key was made" /> : null}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Keep the current key
            </Button>
            <Button color="red" loading={create.isPending} onClick={() => create.mutate()}>
              Make a new key
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

function KeyDetails({ deployKey, sshRepository }: { deployKey: DeployKey; sshRepository: boolean }) {
  const hostKeys = (deployKey.knownHosts ?? "").split("\n").filter((line) => line.trim() !== "");
  return (
    <Stack gap="xs">
      <Text size="sm">Add it to the repository's deploy keys with write access (so the agent's branches can be pushed):</Text>
      <Group gap="xs" wrap="nowrap" align="flex-start">
        <Code block style={{ flex: 1, wordBreak: "break-all", whiteSpace: "pre-wrap" }} data-testid="deploy-key-public">
          {deployKey.publicKey}
        </Code>
        <CopyButton value={deployKey.publicKey}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? "Copied" : "Copy the public key"}>
              <ActionIcon variant="default" size="lg" onClick={copy} aria-label="Copy the public key">
                {copied ? <IconCheck size={16} aria-hidden /> : <IconCopy size={16} aria-hidden />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
      <Text size="sm">
        Fingerprint <Code data-testid="deploy-key-fingerprint">{deployKey.fingerprint}</Code> · made{" "}
        <span title={exactTime(deployKey.createdAt)}>{ago(deployKey.createdAt)}</span>
      </Text>
      {hostKeys.length > 0 ? (
        <Stack gap={2}>
          <Text size="sm" fw={500}>
            Pinned host keys
          </Text>
          <Code block data-testid="deploy-key-known-hosts" style={{ wordBreak: "break-all", whiteSpace: "pre-wrap" }}>
            {hostKeys.join("\n")}
          </Code>
        </Stack>
      ) : sshRepository ? (
        <Text size="xs" c="orange">
          No host keys pinned: SSH connections are refused until they are (they are scanned when the key is made for an SSH repository, or set above).
        </Text>
      ) : null}
    </Stack>
  );
}
