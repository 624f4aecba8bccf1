// A project's variables: plain env (values revealable to editors), secrets (masked in
// output) and credentials (never in the sandbox). Values of secrets and credentials are
// never sent back by the server, so they show masked, always.
import { ActionIcon, Badge, Button, Card, Code, Group, PasswordInput, Select, Stack, Switch, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { envNameProblem } from "../../../src/domain/names.ts";
import { api, type Project, unwrap, type Variable } from "../api/client.ts";
import { useProject, useVariables } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago, exactTime } from "../format.ts";

const MASK = "••••••••";
const KIND_COLORS: Record<Variable["kind"], string> = { env: "gray", secret: "violet", credential: "teal" };

export default function VariablesPanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const variables = useVariables(project.id);
  const [reveal, setReveal] = useState(false);
  const revealed = useProject(reveal ? project.id : undefined, true);
  const envValues = new Map((revealed.data?.env ?? []).map((v) => [v.name, v.value]));

  const unset = useMutation({
    mutationFn: async (name: string) => unwrap(await api.DELETE("/api/v1/projects/{id}/secrets/{name}", { params: { path: { id: project.id, name } } })),
    onSuccess: (_data, name) => {
      notifications.show({ title: "Variable removed", message: name });
      return client.invalidateQueries({ queryKey: ["variables", project.id] });
    },
    onError: (error) => notifications.show({ color: "red", title: "Not removed", message: String(error) }),
  });

  return (
    <Stack>
      <Card withBorder padding="md">
        <Stack gap="sm">
          <Group justify="space-between">
            <Title order={2} size="h4">
              Variables and secrets
            </Title>
            {canEdit ? <Switch label="Show env values" checked={reveal} onChange={(e) => setReveal(e.currentTarget.checked)} /> : null}
          </Group>
          {variables.error ? <ErrorAlert error={variables.error} /> : null}
          {revealed.error ? <ErrorAlert error={revealed.error} title="Values cannot be shown" /> : null}
          <Table verticalSpacing="xs" aria-label="Variables">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Kind</Table.Th>
                <Table.Th>Value</Table.Th>
                <Table.Th>Changed</Table.Th>
                {canEdit ? <Table.Th w={48} /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(variables.data ?? []).map((v) => (
                <Table.Tr key={v.name} data-variable={v.name}>
                  <Table.Td>
                    <Code>{v.name}</Code>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="light" color={KIND_COLORS[v.kind]} size="sm">
                      {v.kind}
                    </Badge>
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" ff="monospace" data-testid={`value-${v.name}`} style={{ wordBreak: "break-all" }}>
                      {v.kind === "env" && reveal && envValues.has(v.name) ? envValues.get(v.name) : MASK}
                    </Text>
                    {v.kind === "credential" && v.placeholder ? (
                      <Text size="xs" c="dimmed">
                        sandboxes see {v.placeholder.slice(0, 24)}… · sent to {v.inject.map((r) => r.host).join(", ") || "no host"}
                      </Text>
                    ) : null}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c="dimmed" title={exactTime(v.updatedAt)}>
                      {ago(v.updatedAt)}
                    </Text>
                  </Table.Td>
                  {canEdit ? (
                    <Table.Td>
                      <Tooltip label={`Remove ${v.name}`}>
                        <ActionIcon variant="subtle" color="red" aria-label={`Remove ${v.name}`} onClick={() => unset.mutate(v.name)}>
                          <IconTrash size={16} aria-hidden />
                        </ActionIcon>
                      </Tooltip>
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
              {variables.data?.length === 0 ? (
                <Table.Tr>
                  <Table.Td colSpan={5}>
                    <Text size="sm" c="dimmed">
                      No variables yet.
                    </Text>
                  </Table.Td>
                </Table.Tr>
              ) : null}
            </Table.Tbody>
          </Table>
        </Stack>
      </Card>
      {canEdit ? <SetVariableForm projectId={project.id} /> : null}
    </Stack>
  );
}

function SetVariableForm({ projectId }: { projectId: string }) {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [value, setValue] = useState("");
  const [kind, setKind] = useState<Variable["kind"]>("secret");
  const problem = name === "" ? null : envNameProblem(name);
  const set = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects/{id}/secrets", { params: { path: { id: projectId } }, body: { name, value, kind } })),
    onSuccess: async (variable) => {
      notifications.show({ color: "green", title: `${variable.kind} set`, message: variable.name });
      setName("");
      setValue("");
      await client.invalidateQueries({ queryKey: ["variables", projectId] });
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });
  return (
    <Card
      withBorder
      padding="md"
      component="form"
      onSubmit={(event) => {
        event.preventDefault();
        if (name && !problem) set.mutate();
      }}
    >
      <Stack gap="sm">
        <Title order={3} size="h5">
          Set a variable
        </Title>
        <Group align="flex-start" wrap="nowrap">
          <TextInput
            label="Name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={problem ? `Name ${problem}` : null}
            spellCheck={false}
            style={{ flex: 1 }}
          />
          <PasswordInput label="Value" value={value} onChange={(e) => setValue(e.currentTarget.value)} style={{ flex: 2 }} />
          <Select
            label="Kind"
            w={150}
            allowDeselect={false}
            value={kind}
            onChange={(k) => setKind((k as Variable["kind"] | null) ?? "secret")}
            data={[
              { value: "env", label: "Env" },
              { value: "secret", label: "Secret" },
              { value: "credential", label: "Credential" },
            ]}
          />
        </Group>
        <Text size="xs" c="dimmed">
          Setting an existing name replaces its value (and kind). Commands see changes from their next start.
        </Text>
        {set.error ? <ErrorAlert error={set.error} title="Not set" /> : null}
        <Button type="submit" w="fit-content" disabled={!name || Boolean(problem)} loading={set.isPending}>
          Set variable
        </Button>
      </Stack>
    </Card>
  );
}
