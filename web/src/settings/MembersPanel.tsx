// Who may do what in the project. Owners add people, change roles and remove them; an admin
// picks from the users list (only admins may read it), others enter a user id.
import { ActionIcon, Button, Card, Code, Group, Select, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconTrash } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, type Role, unwrap } from "../api/client.ts";
import { useMe, useMembers, useUsers } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago, exactTime } from "../format.ts";

const ROLES: { value: Role; label: string }[] = [
  { value: "viewer", label: "Viewer" },
  { value: "editor", label: "Editor" },
  { value: "owner", label: "Owner" },
];

export default function MembersPanel({ project, canOwn }: { project: Project; canOwn: boolean }) {
  const client = useQueryClient();
  const me = useMe();
  const members = useMembers(project.id);
  const refresh = () => client.invalidateQueries({ queryKey: ["members", project.id] });
  const setRole = useMutation({
    mutationFn: async ({ userId, role }: { userId: string; role: Role }) =>
      unwrap(await api.POST("/api/v1/projects/{id}/members", { params: { path: { id: project.id } }, body: { userId, role } })),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: "red", title: "Role not changed", message: String(error.message) }),
  });
  const remove = useMutation({
    mutationFn: async (userId: string) => unwrap(await api.DELETE("/api/v1/projects/{id}/members/{userId}", { params: { path: { id: project.id, userId } } })),
    onSuccess: refresh,
    onError: (error) => notifications.show({ color: "red", title: "Not removed", message: String(error.message) }),
  });

  return (
    <Stack>
      <Card withBorder padding="md">
        <Stack gap="sm">
          <Title order={2} size="h4">
            Members
          </Title>
          <Text size="sm" c="dimmed">
            Viewers see the project, its sandboxes and logs; editors also run commands, use terminals and previews, and change the project; owners also manage
            members and may delete it.
          </Text>
          {members.error ? <ErrorAlert error={members.error} /> : null}
          <Table verticalSpacing="xs" aria-label="Members">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>User</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>Since</Table.Th>
                {canOwn ? <Table.Th w={48} /> : null}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {(members.data ?? []).map((m) => (
                <Table.Tr key={m.userId}>
                  <Table.Td>
                    <Text size="sm" fw={500}>
                      {m.name} {m.userId === me.data?.id ? "(you)" : ""}
                    </Text>
                    <Code>{m.userId}</Code>
                  </Table.Td>
                  <Table.Td>
                    {canOwn ? (
                      <Select
                        aria-label={`Role of ${m.name}`}
                        data={ROLES}
                        value={m.role}
                        allowDeselect={false}
                        onChange={(role) => role && role !== m.role && setRole.mutate({ userId: m.userId, role: role as Role })}
                        w={160}
                      />
                    ) : (
                      <Text size="sm">{m.role}</Text>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Text size="sm" c="dimmed" title={exactTime(m.createdAt)}>
                      {ago(m.createdAt)}
                    </Text>
                  </Table.Td>
                  {canOwn ? (
                    <Table.Td>
                      <Tooltip label={`Remove ${m.name}`}>
                        <ActionIcon variant="subtle" color="red" aria-label={`Remove ${m.name}`} onClick={() => remove.mutate(m.userId)}>
                          <IconTrash size={16} aria-hidden />
                        </ActionIcon>
                      </Tooltip>
                    </Table.Td>
                  ) : null}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Stack>
      </Card>
      {canOwn ? <AddMemberForm projectId={project.id} isAdmin={me.data?.isAdmin ?? false} existing={(members.data ?? []).map((m) => m.userId)} /> : null}
    </Stack>
  );
}

function AddMemberForm({ projectId, isAdmin, existing }: { projectId: string; isAdmin: boolean; existing: string[] }) {
  const client = useQueryClient();
  const users = useUsers(isAdmin);
  const [userId, setUserId] = useState<string | null>(null);
  const [role, setRole] = useState<Role>("editor");
  const add = useMutation({
    mutationFn: async () =>
      unwrap(await api.POST("/api/v1/projects/{id}/members", { params: { path: { id: projectId } }, body: { userId: userId ?? "", role } })),
    onSuccess: async (member) => {
      notifications.show({ color: "green", title: "Member added", message: `${member.name} as ${member.role}` });
      setUserId(null);
      await client.invalidateQueries({ queryKey: ["members", projectId] });
    },
  });
  const candidates = (users.data ?? []).filter((u) => !existing.includes(u.id)).map((u) => ({ value: u.id, label: `${u.name} (${u.id})` }));
  return (
    <Card
      withBorder
      padding="md"
      component="form"
      onSubmit={(event) => {
        event.preventDefault();
        if (userId) add.mutate();
      }}
    >
      <Stack gap="sm">
        <Title order={3} size="h5">
          Add a member
        </Title>
        <Group align="flex-end" wrap="nowrap">
          {isAdmin ? (
            <Select
              label="User"
              placeholder="Pick a user"
              data={candidates}
              value={userId}
              onChange={setUserId}
              searchable
              nothingFoundMessage="No other users"
              w={320}
            />
          ) : (
            <TextInput
              label="User id"
              description="usr_…, from the admin (outpost user list)"
              value={userId ?? ""}
              onChange={(e) => setUserId(e.currentTarget.value || null)}
              w={320}
            />
          )}
          <Select label="Role" data={ROLES} value={role} allowDeselect={false} onChange={(r) => setRole((r as Role | null) ?? "editor")} w={160} />
          <Button type="submit" disabled={!userId} loading={add.isPending}>
            Add
          </Button>
        </Group>
        {add.error ? <ErrorAlert error={add.error} title="Not added" /> : null}
      </Stack>
    </Card>
  );
}
