// One sandbox: its state and the tabs to work in it (Chat with an agent, Terminal, Files,
// Changes, Preview). Each tab is its own chunk, loaded when first opened, and kept mounted after that.
import { Anchor, Group, Skeleton, Stack, Tabs, Text, Title } from "@mantine/core";
import { IconFolder, IconGitCompare, IconMessages, IconTerminal2, IconWorld } from "@tabler/icons-react";
import { type ComponentType, type LazyExoticComponent, lazy, Suspense, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useProject, useSandbox } from "../api/queries.ts";
import { useAbilities } from "../api/roles.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { PhaseBadge } from "../components/PhaseBadge.tsx";
import { StageList } from "../components/StageList.tsx";
import { paths } from "../routes.tsx";
import type { SandboxTabProps } from "../sandbox-tabs/types.ts";

const TABS: { value: string; label: string; icon: typeof IconTerminal2; component: LazyExoticComponent<ComponentType<SandboxTabProps>> }[] = [
  { value: "chat", label: "Chat", icon: IconMessages, component: lazy(() => import("../sandbox-tabs/ChatTab.tsx")) },
  { value: "terminal", label: "Terminal", icon: IconTerminal2, component: lazy(() => import("../sandbox-tabs/TerminalTab.tsx")) },
  { value: "files", label: "Files", icon: IconFolder, component: lazy(() => import("../sandbox-tabs/FilesTab.tsx")) },
  { value: "changes", label: "Changes", icon: IconGitCompare, component: lazy(() => import("../sandbox-tabs/ChangesTab.tsx")) },
  { value: "preview", label: "Preview", icon: IconWorld, component: lazy(() => import("../sandbox-tabs/PreviewTab.tsx")) },
];

export default function SandboxPage() {
  const { sandbox: ref = "", tab: rawTab } = useParams();
  const tab = TABS.some((t) => t.value === rawTab) ? (rawTab as string) : "chat";
  const navigate = useNavigate();
  const sandbox = useSandbox(ref);
  const project = useProject(sandbox.data?.projectId);
  const abilities = useAbilities(sandbox.data?.projectId);
  // Tabs opened so far stay mounted (a terminal keeps its session while Files shows).
  const [opened, setOpened] = useState<Set<string>>(() => new Set([tab]));
  if (!opened.has(tab)) setOpened(new Set([...opened, tab]));

  if (sandbox.error) return <ErrorAlert error={sandbox.error} title="This sandbox cannot be shown" onRetry={() => void sandbox.refetch()} />;
  if (!sandbox.data) return <Skeleton h={200} />;
  const s = sandbox.data;

  return (
    <Stack gap="md">
      <Stack gap={2}>
        <Anchor component={Link} to={paths.project(s.projectId)} size="sm">
          ← {project.data?.name ?? "Project"}
        </Anchor>
        <Group gap="sm">
          <Title order={1} ff="monospace" size="h2">
            {s.name}
          </Title>
          <PhaseBadge phase={s.phase} waking={s.waking} size="md" />
        </Group>
        {s.placement ? (
          <Text size="sm" c="dimmed" data-testid="sandbox-placement">
            Runs on Kubernetes: pod <code>{s.placement.pod}</code>
            {s.placement.node ? (
              <>
                {" "}
                on node <code>{s.placement.node}</code>
              </>
            ) : null}
            {s.placement.namespace ? (
              <>
                {" "}
                in namespace <code>{s.placement.namespace}</code>
              </>
            ) : null}
          </Text>
        ) : null}
        {s.waking ? (
          <Text size="sm" c="dimmed">
            Waking from an idle stop: requests wait until it runs.
          </Text>
        ) : s.stoppedReason === "idle" ? (
          <Text size="sm" c="dimmed">
            Stopped while idle, files kept: the next command, terminal, preview or message wakes it.
          </Text>
        ) : s.phase !== "running" ? (
          <Text size="sm" c="dimmed">
            The sandbox is {s.phase}; the terminal, files and previews need it running.
          </Text>
        ) : null}
      </Stack>
      {s.phase === "provisioning" || s.phase === "pending" ? <StageList stages={s.stages} /> : null}
      {/* display-none, not Mantine's default Activity: a hidden Activity runs its effects' cleanups, which would close a terminal's connection and stop a tab's streams. */}
      <Tabs value={tab} onChange={(value) => navigate(paths.sandbox(ref, value ?? undefined))} keepMountedMode="display-none">
        <Tabs.List>
          {TABS.map(({ value, label, icon: Icon }) => (
            <Tabs.Tab key={value} value={value} leftSection={<Icon size={16} aria-hidden />}>
              {label}
            </Tabs.Tab>
          ))}
        </Tabs.List>
        {TABS.map(({ value, component: Tab }) => (
          <Tabs.Panel key={value} value={value} pt="md" keepMounted>
            {opened.has(value) ? (
              <Suspense fallback={<Skeleton h={300} />}>
                <Tab sandbox={s} project={project.data} canEdit={abilities.canEdit} active={tab === value} />
              </Suspense>
            ) : null}
          </Tabs.Panel>
        ))}
      </Tabs>
    </Stack>
  );
}
