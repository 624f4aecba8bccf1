// The project's environment: which one its sandboxes start from (or none: the host's /usr),
// and the chosen one's definition, build and cache state, and who else uses it. Environments
// are installation-wide: anyone may make one; its creator or an admin changes and builds it;
// the project's editors choose which one the project uses (at its sandboxes' next start).
import { Badge, Button, Card, Group, Select, Skeleton, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus } from "@tabler/icons-react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { useMe } from "../api/queries.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { BuildCard } from "./environment/BuildCard.tsx";
import { EnvironmentForm } from "./environment/EnvironmentForm.tsx";
import { type Environment, useEnvironments } from "./environment/queries.ts";

/** The select's value for "no environment" (no environment may be called that). */
const NONE = "none";

export default function EnvironmentPanel({ project, canEdit }: { project: Project; canEdit: boolean }) {
  // Keyed on updatedAt: a save elsewhere resets the choice to what is stored.
  return <Chooser key={project.updatedAt} project={project} canEdit={canEdit} />;
}

function Chooser({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const environments = useEnvironments();
  const me = useMe();
  const stored = project.environment ?? NONE;
  const [choice, setChoice] = useState(stored);
  const [creating, setCreating] = useState(false);
  const assign = useMutation({
    mutationFn: async () =>
      unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { environment: choice === NONE ? null : choice } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Environment saved", message: "The project's sandboxes start from it at their next start." });
      await client.invalidateQueries({ queryKey: ["project"] });
      await client.invalidateQueries({ queryKey: ["environments"] });
    },
  });

  if (environments.error) return <ErrorAlert error={environments.error} title="Environments cannot be shown" onRetry={() => void environments.refetch()} />;
  if (!environments.data) return <Skeleton h={160} />;
  const chosen = environments.data.find((e) => e.name === choice);
  const canChange = (e: Environment) => Boolean(me.data && (me.data.isAdmin || me.data.id === e.ownerId));

  return (
    <Stack>
      <Card withBorder padding="md" component="section" aria-labelledby="environment-title">
        <Stack gap="sm">
          <Title order={2} size="h4" id="environment-title">
            Environment
          </Title>
          <Text size="sm" c="dimmed">
            What the project's sandboxes start from: an image with a setup script run once and cached, or the host's /usr. A change applies at their next start.
          </Text>
          <form
            onSubmit={(event) => {
              event.preventDefault();
              assign.mutate();
            }}
          >
            <Group align="flex-end">
              <Select
                label="Environment of this project"
                data={[{ value: NONE, label: "none: host /usr" }, ...environments.data.map((e) => ({ value: e.name, label: `${e.name} (${e.image})` }))]}
                value={choice}
                onChange={(value) => {
                  setChoice(value ?? NONE);
                  setCreating(false);
                }}
                allowDeselect={false}
                disabled={!canEdit}
                w={{ base: "100%", sm: 360 }}
              />
              {canEdit ? (
                <Button type="submit" loading={assign.isPending} disabled={choice === stored}>
                  Use for this project
                </Button>
              ) : null}
              <Button variant="default" leftSection={<IconPlus size={14} aria-hidden />} onClick={() => setCreating(true)} disabled={creating}>
                New environment
              </Button>
            </Group>
          </form>
          {choice !== stored ? (
            <Text size="xs" c="orange">
              Not saved yet: the project uses {project.environment ?? "none (the host's /usr)"}.
            </Text>
          ) : null}
          {assign.error ? <ErrorAlert error={assign.error} title="The project's environment was not changed" /> : null}
          {canEdit ? null : (
            <Text size="sm" c="dimmed">
              Editors and owners choose the project's environment.
            </Text>
          )}
        </Stack>
      </Card>
      {creating ? (
        <Card withBorder padding="md" component="section" aria-labelledby="new-environment-title">
          <Stack gap="sm">
            <Title order={3} size="h4" id="new-environment-title">
              New environment
            </Title>
            <EnvironmentForm
              canChange
              onCancel={() => setCreating(false)}
              onSaved={(made) => {
                setCreating(false);
                setChoice(made.name);
              }}
            />
          </Stack>
        </Card>
      ) : chosen ? (
        <Card withBorder padding="md" component="section" aria-labelledby="chosen-environment-title" data-testid="environment">
          <Stack gap="md">
            <Group justify="space-between">
              <Title order={3} size="h4" id="chosen-environment-title">
                {chosen.name}
              </Title>
              <UsedBy environment={chosen} />
            </Group>
            {/* Keyed: another environment, or a save, starts the form from what is stored. */}
            <EnvironmentForm key={`${chosen.id}:${chosen.updatedAt}`} environment={chosen} canChange={canChange(chosen)} />
            <BuildCard environment={chosen} canChange={canChange(chosen)} />
          </Stack>
        </Card>
      ) : null}
    </Stack>
  );
}

function UsedBy({ environment }: { environment: Environment }) {
  return (
    <Group gap={4} aria-label="Projects that use it" data-testid="environment-projects">
      <Text size="xs" c="dimmed" mr={4}>
        {environment.projects.length ? "Used by" : "No project uses it yet"}
      </Text>
      {environment.projects.map((name) => (
        <Badge key={name} size="sm" variant="outline" color="gray" tt="none">
          {name}
        </Badge>
      ))}
    </Group>
  );
}
