// One project: its sandboxes with live provisioning progress, its latest agent conversations
// and the activity timeline, and its settings (variables and secrets, egress, agent, model
// usage, members, git, database, environment) in tabs.
import { ActionIcon, Anchor, Badge, Button, Grid, Group, Menu, Skeleton, Stack, Tabs, Text, Title } from "@mantine/core";
import { IconDots, IconTrash } from "@tabler/icons-react";
import { lazy, Suspense, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useProject } from "../api/queries.ts";
import { useAbilities } from "../api/roles.ts";
import { ActivityTimeline } from "../components/ActivityTimeline.tsx";
import { DeleteProjectDialog } from "../components/DeleteProjectDialog.tsx";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { SandboxList } from "../components/SandboxList.tsx";
import { paths } from "../routes.tsx";

const VariablesPanel = lazy(() => import("../settings/VariablesPanel.tsx"));
const EgressPanel = lazy(() => import("../settings/EgressPanel.tsx"));
const UsagePanel = lazy(() => import("../settings/UsagePanel.tsx"));
const MembersPanel = lazy(() => import("../settings/MembersPanel.tsx"));
const AgentPanel = lazy(() => import("../settings/AgentPanel.tsx"));
const GitPanel = lazy(() => import("../settings/GitPanel.tsx"));
const DatabasePanel = lazy(() => import("../settings/DatabasePanel.tsx"));
const EnvironmentPanel = lazy(() => import("../settings/EnvironmentPanel.tsx"));
const ProjectConversations = lazy(() => import("../sandbox-tabs/chat/ProjectConversations.tsx"));
const IdleStopCard = lazy(() => import("../settings/IdleStopCard.tsx"));

const TABS = [
  { value: "overview", label: "Sandboxes" },
  { value: "variables", label: "Variables" },
  { value: "egress", label: "Egress" },
  { value: "agent", label: "Agent" },
  { value: "git", label: "Git" },
  { value: "database", label: "Database" },
  { value: "environment", label: "Environment" },
  { value: "usage", label: "Model usage" },
  { value: "members", label: "Members" },
] as const;

export default function ProjectPage() {
  const { project: ref = "", tab = "overview" } = useParams();
  const navigate = useNavigate();
  const project = useProject(ref);
  const abilities = useAbilities(project.data?.id);
  const [deleting, setDeleting] = useState(false);

  if (project.error) return <ErrorAlert error={project.error} title="This project cannot be shown" onRetry={() => void project.refetch()} />;
  if (!project.data) return <Skeleton h={200} />;
  const p = project.data;

  return (
    <Stack gap="md">
      <Group justify="space-between" align="flex-start" wrap="nowrap">
        <Stack gap={2}>
          <Anchor component={Link} to={paths.projects()} size="sm">
            ← Projects
          </Anchor>
          <Group gap="sm">
            <Title order={1}>{p.name}</Title>
            {abilities.role ? (
              <Badge variant="outline" color="gray" aria-label={`Your role: ${abilities.role}`}>
                {abilities.role}
              </Badge>
            ) : null}
          </Group>
          <Text size="sm" c="dimmed">
            {p.repoUrl ?? "No repository"} · egress {p.egress.level}
          </Text>
        </Stack>
        {abilities.canOwn ? (
          <Menu position="bottom-end">
            <Menu.Target>
              <ActionIcon variant="default" size="lg" aria-label="Project actions">
                <IconDots size={18} aria-hidden />
              </ActionIcon>
            </Menu.Target>
            <Menu.Dropdown>
              <Menu.Item color="red" leftSection={<IconTrash size={14} aria-hidden />} onClick={() => setDeleting(true)}>
                Delete project…
              </Menu.Item>
            </Menu.Dropdown>
          </Menu>
        ) : null}
      </Group>

      <Tabs value={tab} onChange={(value) => navigate(paths.project(ref, value === "overview" ? undefined : (value ?? undefined)))} keepMounted={false}>
        <Tabs.List>
          {TABS.map((t) => (
            <Tabs.Tab key={t.value} value={t.value}>
              {t.label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        <Suspense fallback={<Skeleton h={160} mt="md" />}>
          <Tabs.Panel value="overview" pt="md">
            <Grid gap="lg">
              <Grid.Col span={{ base: 12, md: 8 }}>
                <SandboxList project={p} canEdit={abilities.canEdit} />
              </Grid.Col>
              <Grid.Col span={{ base: 12, md: 4 }}>
                <Stack gap="lg">
                  <Suspense fallback={<Skeleton h={80} />}>
                    <ProjectConversations projectId={p.id} />
                  </Suspense>
                  <ActivityTimeline projectId={p.id} />
                  <Suspense fallback={<Skeleton h={80} />}>
                    <IdleStopCard project={p} canEdit={abilities.canEdit} />
                  </Suspense>
                </Stack>
              </Grid.Col>
            </Grid>
          </Tabs.Panel>
          <Tabs.Panel value="variables" pt="md">
            <VariablesPanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="egress" pt="md">
            <EgressPanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="agent" pt="md">
            <AgentPanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="git" pt="md">
            <GitPanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="database" pt="md">
            <DatabasePanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="environment" pt="md">
            <EnvironmentPanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="usage" pt="md">
            <UsagePanel project={p} canEdit={abilities.canEdit} />
          </Tabs.Panel>
          <Tabs.Panel value="members" pt="md">
            <MembersPanel project={p} canOwn={abilities.canOwn} />
          </Tabs.Panel>
        </Suspense>
      </Tabs>
      <DeleteProjectDialog project={deleting ? p : null} onClose={() => setDeleting(false)} onDeleted={() => navigate(paths.projects())} />
      {!TABS.some((t) => t.value === tab) ? (
        <Button variant="subtle" onClick={() => navigate(paths.project(ref))}>
          Unknown tab “{tab}”: show the sandboxes
        </Button>
      ) : null}
    </Stack>
  );
}
