// The project's idle stop: how long its sandboxes may sit idle (no command, attached terminal,
// preview request or agent run) before they are stopped, files kept. Any request wakes a
// sandbox stopped this way; 0 = never. Editors change it; others see it.
import { Button, Card, NumberInput, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";

/** A week, as the API allows. */
const MAX_SECONDS = 604_800;

export default function IdleStopCard({ project, canEdit }: { project: Project; canEdit: boolean }) {
  const client = useQueryClient();
  const [seconds, setSeconds] = useState<number | string>(project.idleTimeoutSeconds);
  const save = useMutation({
    mutationFn: async (idleTimeoutSeconds: number) =>
      unwrap(await api.PATCH("/api/v1/projects/{id}", { params: { path: { id: project.id } }, body: { idleTimeoutSeconds } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Idle stop saved", message: "It applies to the project's running sandboxes at once." });
      await client.invalidateQueries({ queryKey: ["project"] });
    },
  });
  const value = typeof seconds === "number" ? seconds : null;
  return (
    <Card
      withBorder
      padding="md"
      component="form"
      aria-label="Idle stop"
      onSubmit={(event) => {
        event.preventDefault();
        if (value !== null) save.mutate(value);
      }}
    >
      <Stack gap="sm">
        <Title order={3} size="h5">
          Idle stop
        </Title>
        <NumberInput
          label="Stop idle sandboxes after (seconds)"
          description="0 = never. Idle: no command, attached terminal, preview request or agent run. Files are kept; the next request wakes the sandbox."
          value={seconds}
          onChange={setSeconds}
          min={0}
          max={MAX_SECONDS}
          step={60}
          allowDecimal={false}
          allowNegative={false}
          clampBehavior="strict"
          disabled={!canEdit}
          maw={360}
        />
        {save.error ? <ErrorAlert error={save.error} title="Not saved" /> : null}
        {canEdit ? (
          <Button type="submit" w="fit-content" loading={save.isPending} disabled={value === null || value === project.idleTimeoutSeconds}>
            Save
          </Button>
        ) : (
          <Text size="xs" c="dimmed">
            Editors can change it.
          </Text>
        )}
      </Stack>
    </Card>
  );
}
