// The project's way out: the policy (level, allowed and denied hosts) and the latest
// connections its sandboxes asked for, allowed or refused (refreshed by egress events).
import { Badge, Button, Card, Group, Select, Stack, Table, TagsInput, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type EgressLevel, type Project, unwrap } from "../api/client.ts";
import { useEgressLog, useSandboxes } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { EGRESS_LEVEL_OPTIONS } from "../components/egress-levels.ts";
import { ago, bytes, exactTime } from "../format.ts";

const ruleText = (rule: { host: string; port?: number }) => (rule.port ? `${rule.host}:${rule.port}` : rule.host);

export default function EgressPanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  return (
    <Stack>
      <PolicyForm key={project.updatedAt} project={project} canEdit={canEdit} />
      <EgressLog projectId={project.id} />
    </Stack>
  );
}

function PolicyForm({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const [level, setLevel] = useState<EgressLevel>(project.egress.level);
  const [allow, setAllow] = useState(project.egress.allow.map(ruleText));
  const [deny, setDeny] = useState(project.egress.deny.map(ruleText));
  const save = useMutation({
    mutationFn: async () =>
      unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { egress: { level, allow, deny } } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Egress policy saved", message: "It applies to the next connection." });
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });
  const changed =
    level !== project.egress.level || allow.join() !== project.egress.allow.map(ruleText).join() || deny.join() !== project.egress.deny.map(ruleText).join();

  return (
    <Card
      withBorder
      padding="md"
      component="form"
      onSubmit={(event) => {
        event.preventDefault();
        save.mutate();
      }}
    >
      <Stack gap="sm">
        <Title order={2} size="h4">
          Egress policy
        </Title>
        <Select
          label="Level"
          description={EGRESS_LEVEL_OPTIONS.find((o) => o.value === level)?.description}
          data={EGRESS_LEVEL_OPTIONS.map(({ value, label }) => ({ value, label }))}
          value={level}
          allowDeselect={false}
          onChange={(value) => setLevel((value as EgressLevel | null) ?? level)}
          disabled={!canEdit}
          maw={420}
        />
        <TagsInput
          label="Allowed hosts"
          description="On top of the level: host or host:port, *.example.com for subdomains (Enter after each)"
          value={allow}
          onChange={setAllow}
          splitChars={[",", " "]}
          disabled={!canEdit}
          clearable
        />
        <TagsInput
          label="Denied hosts"
          description="Never reachable, whatever else allows them"
          value={deny}
          onChange={setDeny}
          splitChars={[",", " "]}
          disabled={!canEdit}
          clearable
        />
        {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        {canEdit ? (
          <Group>
            <Button type="submit" disabled={!changed} loading={save.isPending}>
              Save policy
            </Button>
          </Group>
        ) : null}
      </Stack>
    </Card>
  );
}

function EgressLog({ projectId }: { projectId: string }) {
  const log = useEgressLog(projectId);
  const sandboxes = useSandboxes(projectId);
  const names = new Map((sandboxes.data ?? []).map((s) => [s.id, s.name]));
  return (
    <Card withBorder padding="md" component="section" aria-labelledby="egress-log-title">
      <Stack gap="sm">
        <Title order={2} size="h4" id="egress-log-title">
          Recent connections
        </Title>
        {log.error ? <ErrorAlert error={log.error} /> : null}
        {log.data?.length === 0 ? (
          <Text size="sm" c="dimmed">
            No connections yet. Every connection a sandbox asks for shows here, allowed or refused.
          </Text>
        ) : (
          <Table.ScrollContainer minWidth={800}>
            <Table verticalSpacing={6} striped aria-label="Recent connections">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>When</Table.Th>
                  <Table.Th>Sandbox</Table.Th>
                  <Table.Th>Host</Table.Th>
                  <Table.Th>Decision</Table.Th>
                  <Table.Th>Rule</Table.Th>
                  <Table.Th>Bytes up / down</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {(log.data ?? []).map((r) => (
                  <Table.Tr key={r.id}>
                    <Table.Td>
                      <Text size="sm" title={exactTime(r.startedAt)}>
                        {ago(r.startedAt)}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {names.get(r.sandboxId) ?? r.sandboxId}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" ff="monospace">
                        {r.host}:{r.port}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={r.allowed ? "green" : "red"} variant="light" size="sm">
                        {r.allowed ? "allowed" : "refused"}
                      </Badge>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c="dimmed">
                        {r.rule}
                        {r.reason ? ` — ${r.reason}` : ""}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="sm" c="dimmed">
                        {bytes(r.bytesUp)} / {bytes(r.bytesDown)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
      </Stack>
    </Card>
  );
}
