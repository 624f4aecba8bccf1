// The projects: each with its sandboxes' phases and its last activity, a search box, and
// the create and delete dialogs.
import { ActionIcon, Anchor, Button, Card, Group, Menu, Skeleton, Stack, Table, Text, TextInput, Title, Tooltip, VisuallyHidden } from "@mantine/core";
import { IconDots, IconPlus, IconSearch, IconTrash } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import { Link } from "react-router";
import type { Project, Sandbox } from "../api/client.ts";
import { useLastActivity } from "../api/live.ts";
import { useProjects, useSandboxes } from "../api/queries.ts";
import { CreateProjectDialog } from "../components/CreateProjectDialog.tsx";
import { DeleteProjectDialog } from "../components/DeleteProjectDialog.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { PhaseBadge } from "../components/PhaseBadge.tsx";
import { ago, exactTime } from "../format.ts";
import { paths } from "../routes.tsx";

export default function ProjectsPage() {
  const projects = useProjects();
  const sandboxes = useSandboxes();
  const activity = useLastActivity();
  const [search, setSearch] = useState("");
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Project | null>(null);

  const byProject = useMemo(() => {
    const map = new Map<string, Sandbox[]>();
    for (const sandbox of sandboxes.data ?? []) map.set(sandbox.projectId, [...(map.get(sandbox.projectId) ?? []), sandbox]);
    return map;
  }, [sandboxes.data]);

  const lastActivity = (project: Project) =>
    [activity.get(project.id), project.updatedAt, ...(byProject.get(project.id) ?? []).map((s) => s.updatedAt)]
      .filter((t): t is string => Boolean(t))
      .sort()
      .at(-1) ?? project.updatedAt;

  const query = search.trim().toLowerCase();
  const shown = (projects.data ?? [])
    .filter((p) => !query || p.name.includes(query) || (p.repoUrl ?? "").toLowerCase().includes(query))
    .sort((a, b) => lastActivity(b).localeCompare(lastActivity(a)));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1}>Projects</Title>
        <Button leftSection={<IconPlus size={16} aria-hidden />} onClick={() => setCreating(true)}>
          New project
        </Button>
      </Group>
      <TextInput
        aria-label="Search projects"
        placeholder="Search by name or repository"
        leftSection={<IconSearch size={16} aria-hidden />}
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
        maw={420}
        type="search"
      />
      {projects.error ? <ErrorAlert error={projects.error} onRetry={() => void projects.refetch()} /> : null}
      {projects.isPending ? (
        <Stack gap="xs">
          <Skeleton h={40} />
          <Skeleton h={40} />
        </Stack>
      ) : projects.data?.length === 0 ? (
        <Card withBorder padding="xl">
          <Stack align="flex-start">
            <Title order={2} size="h4">
              No projects yet
            </Title>
            <Text size="sm" c="dimmed">
              A project holds a repository, its variables and secrets, and the sandboxes agents and people work in.
            </Text>
            <Button onClick={() => setCreating(true)}>Create the first project</Button>
          </Stack>
        </Card>
      ) : (
        <Card withBorder padding={0}>
          <Table.ScrollContainer minWidth={720}>
            <Table highlightOnHover verticalSpacing="sm" horizontalSpacing="md">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Project</Table.Th>
                  <Table.Th>Repository</Table.Th>
                  <Table.Th>Sandboxes</Table.Th>
                  <Table.Th>Last activity</Table.Th>
                  <Table.Th w={56}>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {shown.map((project) => {
                  const live = byProject.get(project.id) ?? [];
                  const last = lastActivity(project);
                  return (
                    <Table.Tr key={project.id}>
                      <Table.Td>
                        <Anchor component={Link} to={paths.project(project.id)} fw={600}>
                          {project.name}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" c="dimmed" truncate maw={320}>
                          {project.repoUrl ?? "—"}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        {live.length === 0 ? (
                          <Text size="sm" c="dimmed">
                            none
                          </Text>
                        ) : (
                          <Group gap={4}>
                            {live.map((s) => (
                              <Tooltip key={s.id} label={s.name}>
                                <span>
                                  <PhaseBadge phase={s.phase} />
                                </span>
                              </Tooltip>
                            ))}
                          </Group>
                        )}
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" title={exactTime(last)}>
                          {ago(last)}
                        </Text>
                      </Table.Td>
                      <Table.Td>
                        <Menu position="bottom-end">
                          <Menu.Target>
                            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${project.name}`}>
                              <IconDots size={16} aria-hidden />
                            </ActionIcon>
                          </Menu.Target>
                          <Menu.Dropdown>
                            <Menu.Item color="red" leftSection={<IconTrash size={14} aria-hidden />} onClick={() => setDeleting(project)}>
                              Delete…
                            </Menu.Item>
                          </Menu.Dropdown>
                        </Menu>
                      </Table.Td>
                    </Table.Tr>
                  );
                })}
                {shown.length === 0 ? (
                  <Table.Tr>
                    <Table.Td colSpan={5}>
                      <Text size="sm" c="dimmed">
                        No project matches “{search}”.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ) : null}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        </Card>
      )}
      <CreateProjectDialog opened={creating} onClose={() => setCreating(false)} />
      <DeleteProjectDialog project={deleting} onClose={() => setDeleting(null)} />
    </Stack>
  );
}
