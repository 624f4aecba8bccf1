// The Preview tab: the ports listening in the sandbox, as they appear and go (the ports
// stream, GET …/ports?follow=true), each with "Open preview" and "Share link". A preview runs
// code the agent wrote, so it lives on an origin of its own and opens in a new browser tab:
// the open route trades a one-time code for that origin's cookie, which is SameSite=Lax and
// so is not sent inside a frame of this page.
import { Alert, Badge, Button, Card, Code, Group, Skeleton, Stack, Table, Text } from "@mantine/core";
import { IconExternalLink, IconShare } from "@tabler/icons-react";
import { useEffect, useState } from "react";
import type { ApiError, Schemas } from "../api/client.ts";
import { followSse } from "../api/sse.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ShareDialog } from "./preview/ShareDialog.tsx";
import type { SandboxTabProps } from "./types.ts";

type ListeningPort = Schemas["ListeningPort"];

export default function PreviewTab({ sandbox, canEdit, active }: SandboxTabProps) {
  if (sandbox.phase !== "running") {
    return (
      <Alert color="gray" title="The sandbox is not running" role="status">
        Previews show what the sandbox serves: start it, then start a server in it.
      </Alert>
    );
  }
  return <Ports sandboxId={sandbox.id} canEdit={canEdit} active={active} />;
}

/** The ports listening inside, followed while `enabled` (a fresh list comes first on every connection). */
function usePorts(sandboxId: string, enabled: boolean) {
  const [ports, setPorts] = useState<ListeningPort[] | null>(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    void followSse({
      url: `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/ports?follow=true`,
      signal: abort.signal,
      onOpen: () => {
        setLive(true);
        setError(null);
      },
      onError: (problem) => {
        setLive(false);
        setError(problem);
      },
      onEvent: (type, data) => {
        if (type === "ports") setPorts((data as { items: ListeningPort[] }).items);
      },
    }).finally(() => setLive(false));
    return () => abort.abort();
  }, [sandboxId, enabled]);
  return { ports, live, error };
}

/**
 * The supervisor's own listeners: with egress on it bridges 127.0.0.1:3128 (the egress proxy,
 * HTTP_PROXY) and 3129 (the model gateway) to the host (src/domain/sandbox-network.ts). Nothing
 * to preview there; while it holds them no app can listen on those ports anyway.
 */
const OUTPOST_PORTS: Record<number, string> = { 3128: "egress proxy", 3129: "model gateway" };
const isOutposts = (p: ListeningPort) =>
  OUTPOST_PORTS[p.port] !== undefined && p.process?.name === "node" && p.addresses.every((a) => a === "127.0.0.1" || a === "::ffff:127.0.0.1");

/** The open route on this origin: the session cookie goes with it wherever the UI is served from. */
function openHref(port: ListeningPort): string {
  const url = new URL(port.openUrl, location.origin);
  return `${url.pathname}${url.search}`;
}

function Ports({ sandboxId, canEdit, active }: { sandboxId: string; canEdit: boolean; active: boolean }) {
  const { ports: all, live, error } = usePorts(sandboxId, active);
  const ports = all?.filter((p) => !isOutposts(p)) ?? null;
  const outposts = all?.filter(isOutposts) ?? [];
  const [sharing, setSharing] = useState<number | null>(null);

  return (
    <Stack gap="sm">
      <Group justify="space-between" gap="xs">
        <Text size="sm" c="dimmed">
          Each preview opens in a new browser tab, on an origin of its own: its sign-in cookie is SameSite=Lax, so it cannot work in a frame of this page, and
          the app never sees your Outpost session.
        </Text>
        <Badge size="xs" variant="dot" color={live ? "green" : "gray"}>
          {live ? "live" : "connecting"}
        </Badge>
      </Group>
      {error && ports === null ? <ErrorAlert error={error} title="The ports cannot be listed" /> : null}
      {ports === null && !error ? <Skeleton h={120} /> : null}
      {ports?.length === 0 ? (
        <Card withBorder padding="lg">
          <Stack gap={6}>
            <Text fw={600}>Nothing is listening yet</Text>
            <Text size="sm" c="dimmed">
              Start a server in a terminal, for example <Code>python3 -m http.server 8000</Code> or <Code>npm run dev -- --host</Code>, and its port appears
              here. It must listen on 0.0.0.0, 127.0.0.1 or ::.
            </Text>
          </Stack>
        </Card>
      ) : null}
      {ports && ports.length > 0 ? (
        <Card withBorder padding={0}>
          <Table verticalSpacing="sm" aria-label="Listening ports">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Port</Table.Th>
                <Table.Th>Process</Table.Th>
                <Table.Th visibleFrom="md">Preview address</Table.Th>
                <Table.Th />
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {ports.map((p) => (
                <Table.Tr key={p.port} data-port={p.port}>
                  <Table.Td>
                    <Text fw={600} ff="monospace">
                      {p.port}
                    </Text>
                    <Text size="xs" c="dimmed" ff="monospace">
                      {p.addresses.join(", ")}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    {p.process ? (
                      <Text size="sm" ff="monospace">
                        {p.process.name}{" "}
                        <Text span size="xs" c="dimmed">
                          pid {p.process.pid}
                        </Text>
                      </Text>
                    ) : (
                      <Text size="sm" c="dimmed">
                        unknown
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td visibleFrom="md">
                    <Text size="xs" ff="monospace" c="dimmed">
                      {p.previewUrl}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap="xs" justify="flex-end" wrap="nowrap">
                      {canEdit ? (
                        <>
                          <Button
                            size="xs"
                            component="a"
                            href={openHref(p)}
                            target="_blank"
                            rel="noopener noreferrer"
                            rightSection={<IconExternalLink size={14} aria-hidden />}
                            aria-label={`Open preview of port ${p.port} (new tab)`}
                          >
                            Open preview
                          </Button>
                          <Button size="xs" variant="default" leftSection={<IconShare size={14} aria-hidden />} onClick={() => setSharing(p.port)}>
                            Share link
                          </Button>
                        </>
                      ) : null}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      ) : null}
      {outposts.length > 0 ? (
        <Text size="xs" c="dimmed">
          Also listening: {outposts.map((p) => `${p.port} (Outpost's ${OUTPOST_PORTS[p.port]})`).join(", ")}, the sandbox's way out.
        </Text>
      ) : null}
      {!canEdit && ports && ports.length > 0 ? (
        <Text size="xs" c="dimmed">
          Opening and sharing previews takes the editor role (a preview is a live connection into the sandbox): ask an owner for it, or an editor for a share
          link.
        </Text>
      ) : null}
      <ShareDialog sandboxId={sandboxId} port={sharing} onClose={() => setSharing(null)} />
    </Stack>
  );
}
