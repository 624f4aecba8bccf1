// The project's PostgreSQL database: whether it is there (ready, missing after someone
// dropped it outside Outpost, or none yet), its size, server version and extensions, the
// connection string sandboxes get (password revealed on click, editors only), its tables,
// a read-only query box, a dump to download, a reset to empty (typed confirmation) and its
// branches. The database lives on when sandboxes go; the server decides who may do what.
import { Alert, Badge, Button, Card, Group, Skeleton, Stack, Text, Title, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconDatabasePlus, IconDownload, IconRefresh } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago, bytes, exactTime } from "../format.ts";
import { BranchesCard } from "./database/BranchesCard.tsx";
import { ConnectionString } from "./database/ConnectionString.tsx";
import { QueryCard } from "./database/QueryCard.tsx";
import { type DatabaseInfo, databaseKey, dumpUrl, useDatabase } from "./database/queries.ts";
import { ResetDialog } from "./database/ResetDialog.tsx";
import { TablesCard } from "./database/TablesCard.tsx";

const STATUS_COLOR: Record<DatabaseInfo["status"], string> = { pending: "blue", ready: "green", missing: "orange", failed: "red" };

export default function DatabasePanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const database = useDatabase(project.id);
  const db = database.data;
  if (database.error) return <ErrorAlert error={database.error} title="The database cannot be shown" onRetry={() => void database.refetch()} />;
  if (db === undefined) return <Skeleton h={160} />;
  return (
    <Stack>
      {db === null ? <NoDatabase project={project} canEdit={canEdit} /> : <DatabaseCard project={project} db={db} canEdit={canEdit} />}
      {db?.status === "ready" ? (
        <>
          <TablesCard projectId={project.id} />
          <QueryCard projectId={project.id} />
          <BranchesCard project={project} canEdit={canEdit} />
        </>
      ) : null}
    </Stack>
  );
}

/** Create (none yet) and recreate (missing) are the same call: POST …/database. */
function useCreate(projectId: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects/{id}/database", { params: { path: { id: projectId } }, body: {} })),
    onSuccess: async (made) => {
      notifications.show({ color: "green", title: "Database ready", message: `${made.name}: sandboxes started from now on reach it as DATABASE_URL.` });
      await client.invalidateQueries({ queryKey: databaseKey(projectId) });
    },
  });
}

function NoDatabase({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const create = useCreate(project.id);
  return (
    <Card withBorder padding="md" aria-labelledby="database-title" data-testid="database" data-status="none">
      <Stack gap="sm">
        <Title order={2} size="h4" id="database-title">
          Database
        </Title>
        <Text size="sm">
          {project.database === "none"
            ? "This project is set to have no database."
            : "The project has no PostgreSQL database yet; one is made when its next sandbox starts."}
        </Text>
        {canEdit ? (
          <Group>
            <Button leftSection={<IconDatabasePlus size={14} aria-hidden />} loading={create.isPending} onClick={() => create.mutate()}>
              Create database
            </Button>
          </Group>
        ) : null}
        {create.error ? <ErrorAlert error={create.error} title="No database was made" /> : null}
      </Stack>
    </Card>
  );
}

function DatabaseCard({ project, db, canEdit }: { project: Project; db: DatabaseInfo; canEdit: boolean }) {
  const create = useCreate(project.id);
  const [resetting, setResetting] = useState(false);
  const ready = db.status === "ready";
  return (
    <Card withBorder padding="md" aria-labelledby="database-title" data-testid="database" data-status={db.status}>
      <Stack gap="sm">
        <Group justify="space-between">
          <Group gap="sm">
            <Title order={2} size="h4" id="database-title">
              Database
            </Title>
            <Badge color={STATUS_COLOR[db.status]} variant="light" data-testid="database-status">
              {db.status}
            </Badge>
          </Group>
          <Group gap="xs">
            {ready ? (
              <Button
                size="xs"
                variant="default"
                component="a"
                href={dumpUrl(project.id)}
                download={`${project.name}.sql`}
                leftSection={<IconDownload size={14} aria-hidden />}
              >
                Download dump
              </Button>
            ) : null}
            {canEdit && ready ? (
              <Button size="xs" variant="default" color="red" onClick={() => setResetting(true)}>
                Reset…
              </Button>
            ) : null}
          </Group>
        </Group>
        {db.status === "missing" ? (
          <Alert color="orange" variant="light" title="The database is missing" data-testid="database-missing">
            <Stack gap="xs">
              <Text size="sm">
                Outpost made <b>{db.name}</b>, but it is no longer on the server (dropped outside Outpost?). Sandboxes start without it until it is made again,
                empty.
              </Text>
              {db.error ? (
                <Text size="xs" c="dimmed">
                  {db.error}
                </Text>
              ) : null}
              {canEdit ? (
                <Group>
                  <Button
                    size="xs"
                    color="orange"
                    leftSection={<IconRefresh size={14} aria-hidden />}
                    loading={create.isPending}
                    onClick={() => create.mutate()}
                  >
                    Recreate
                  </Button>
                </Group>
              ) : null}
            </Stack>
          </Alert>
        ) : null}
        {db.status === "pending" ? <Text size="sm">Being made; it is ready before the project's next sandbox starts.</Text> : null}
        {db.status === "failed" ? (
          <Alert color="red" variant="light" title="It could not be made" data-testid="database-failed">
            <Stack gap="xs">
              <Text size="sm">{db.error ?? "The provisioner failed."} The next sandbox start tries again.</Text>
              {canEdit ? (
                <Group>
                  <Button
                    size="xs"
                    color="red"
                    variant="light"
                    leftSection={<IconRefresh size={14} aria-hidden />}
                    loading={create.isPending}
                    onClick={() => create.mutate()}
                  >
                    Try again
                  </Button>
                </Group>
              ) : null}
            </Stack>
          </Alert>
        ) : null}
        {create.error ? <ErrorAlert error={create.error} title="The database was not made" /> : null}
        <Facts db={db} />
        <ConnectionString projectId={project.id} masked={db.connectionString} canReveal={canEdit} />
      </Stack>
      <ResetDialog project={project} opened={resetting} onClose={() => setResetting(false)} />
    </Card>
  );
}

/** Extensions shown before "more": a full server offers dozens. */
const EXTENSIONS_SHOWN = 12;

function Facts({ db }: { db: DatabaseInfo }) {
  const [allExtensions, setAllExtensions] = useState(false);
  const extensions = db.extensions ?? [];
  const shown = allExtensions ? extensions : extensions.slice(0, EXTENSIONS_SHOWN);
  return (
    <Stack gap={6}>
      <Group gap="xl">
        <Fact label="Name" value={db.name} testId="database-name" />
        <Fact label="Size" value={db.sizeBytes === null || db.sizeBytes === undefined ? "—" : bytes(db.sizeBytes)} testId="database-size" />
        <Fact label="PostgreSQL" value={db.serverVersion ?? "—"} testId="database-version" />
        <Fact label="Provisioner" value={db.provisioner} />
        <Stack gap={0}>
          <Text size="xs" c="dimmed">
            Made
          </Text>
          <Text size="sm" title={exactTime(db.createdAt)}>
            {ago(db.createdAt)}
          </Text>
        </Stack>
      </Group>
      {extensions.length > 0 ? (
        <Group gap={4} aria-label="Available extensions" data-testid="database-extensions">
          <Text size="xs" c="dimmed" mr={4}>
            Extensions available:
          </Text>
          {shown.map((e) => (
            <Tooltip key={e.name} label={e.version ? `version ${e.version}` : "no default version"}>
              <Badge size="sm" variant="outline" color="gray" tt="none">
                {e.name}
              </Badge>
            </Tooltip>
          ))}
          {extensions.length > shown.length ? (
            <Button size="compact-xs" variant="subtle" onClick={() => setAllExtensions(true)}>
              {extensions.length - shown.length} more
            </Button>
          ) : null}
        </Group>
      ) : null}
    </Stack>
  );
}

function Fact({ label, value, testId }: { label: string; value: string; testId?: string }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" data-testid={testId}>
        {value}
      </Text>
    </Stack>
  );
}
