// Share links of one port's preview: make one (its URL is in the answer only, so it is shown
// once, with a copy button), list the live ones, revoke one (its browser sessions end too).
import { Alert, Button, Code, Group, Modal, Select, Stack, Table, Text, TextInput } from "@mantine/core";
import { useClipboard } from "@mantine/hooks";
import { IconCheck, IconCopy } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Schemas, unwrap } from "../../api/client.ts";
import { useMe } from "../../api/queries.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { ago, exactTime } from "../../format.ts";

type CreatedShare = Schemas["CreatedPreviewShare"];

const LIFETIMES = [
  { value: "15", label: "15 minutes" },
  { value: "60", label: "1 hour" },
  { value: "480", label: "8 hours" },
  { value: "1440", label: "1 day" },
  { value: "10080", label: "7 days" },
  { value: "43200", label: "30 days" },
];

export function ShareDialog({ sandboxId, port, onClose }: { sandboxId: string; port: number | null; onClose: () => void }) {
  return (
    <Modal opened={port !== null} onClose={onClose} title={port !== null ? `Share the preview of port ${port}` : ""} size="lg">
      {port !== null ? <ShareBody sandboxId={sandboxId} port={port} /> : null}
    </Modal>
  );
}

function ShareBody({ sandboxId, port }: { sandboxId: string; port: number }) {
  const client = useQueryClient();
  const me = useMe();
  const key = ["preview-shares", sandboxId, port];
  const params = { params: { path: { id: sandboxId, port } } };
  const shares = useQuery({ queryKey: key, queryFn: async () => unwrap(await api.GET("/api/v1/sandboxes/{id}/previews/{port}/share", params)).items });
  const [minutes, setMinutes] = useState("60");
  const [created, setCreated] = useState<CreatedShare | null>(null);
  const clipboard = useClipboard({ timeout: 2000 });

  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/sandboxes/{id}/previews/{port}/share", { ...params, body: { expiresInMinutes: Number(minutes) } })),
    onSuccess: (share) => {
      setCreated(share);
      void client.invalidateQueries({ queryKey: key });
    },
  });
  const revoke = useMutation({
    mutationFn: async (shareId: string) =>
      unwrap(await api.DELETE("/api/v1/sandboxes/{id}/previews/{port}/share/{shareId}", { params: { path: { id: sandboxId, port, shareId } } })),
    onSuccess: (_, shareId) => {
      if (created?.id === shareId) setCreated(null);
      void client.invalidateQueries({ queryKey: key });
    },
  });

  return (
    <Stack>
      <Text size="sm">
        Anyone with a share link can open this preview, without an account, until it expires or you revoke it. It opens only port {port} of this sandbox.
      </Text>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          create.mutate();
        }}
      >
        <Group align="flex-end" gap="sm">
          <Select label="Works for" data={LIFETIMES} value={minutes} onChange={(v) => setMinutes(v ?? "60")} allowDeselect={false} w={160} />
          <Button type="submit" loading={create.isPending}>
            Create link
          </Button>
        </Group>
      </form>
      {create.error ? <ErrorAlert error={create.error} title="No link was made" /> : null}
      {created ? (
        <Alert color="green" variant="light" title="Share link created" role="status">
          <Stack gap="xs">
            <Text size="sm">Copy it now: it is shown only once. It works until {exactTime(created.expiresAt)}.</Text>
            <Group gap="xs" wrap="nowrap">
              <TextInput
                value={created.url}
                readOnly
                aria-label="Share link"
                ff="monospace"
                style={{ flex: 1 }}
                onFocus={(e) => e.currentTarget.select()}
                data-testid="share-url"
              />
              <Button
                variant={clipboard.copied ? "filled" : "default"}
                color={clipboard.copied ? "teal" : undefined}
                leftSection={clipboard.copied ? <IconCheck size={14} aria-hidden /> : <IconCopy size={14} aria-hidden />}
                onClick={() => clipboard.copy(created.url)}
              >
                {clipboard.copied ? "Copied" : "Copy"}
              </Button>
            </Group>
            {clipboard.error ? (
              <Text size="xs" c="red">
                This browser does not let the page copy (it needs https or localhost): select the link and copy it by hand.
              </Text>
            ) : null}
          </Stack>
        </Alert>
      ) : null}

      <Stack gap={4}>
        <Text fw={600} size="sm">
          Live links
        </Text>
        {shares.error ? <ErrorAlert error={shares.error} title="The links cannot be listed" /> : null}
        {revoke.error ? <ErrorAlert error={revoke.error} title="The link was not revoked" /> : null}
        {shares.data?.length === 0 ? (
          <Text size="sm" c="dimmed">
            None: this preview is shared with no one.
          </Text>
        ) : null}
        {shares.data && shares.data.length > 0 ? (
          <Table aria-label="Live share links" verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Link</Table.Th>
                <Table.Th>Made by</Table.Th>
                <Table.Th>Expires</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shares.data.map((share) => (
                <Table.Tr key={share.id}>
                  <Table.Td>
                    <Code>{share.id}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm">{share.createdBy === me.data?.id ? "you" : share.createdBy}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" title={exactTime(share.expiresAt)}>
                      {ago(share.expiresAt)}
                    </Text>
                  </Table.Td>
                  <Table.Td ta="right">
                    <Button
                      size="compact-xs"
                      variant="subtle"
                      color="red"
                      loading={revoke.isPending && revoke.variables === share.id}
                      onClick={() => revoke.mutate(share.id)}
                      aria-label={`Revoke ${share.id}`}
                    >
                      Revoke
                    </Button>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        ) : null}
      </Stack>
    </Stack>
  );
}
