// Resetting drops the database and makes it again, empty, under the same name and login:
// every table and row goes. Asked for by typing the project's name, which the server checks
// too (POST …/database/reset {confirm}).
import { Button, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Project, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { databaseKey } from "./queries.ts";

export function ResetDialog({ project, opened, onClose }: { project: Project; opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="Reset the database?">
      {opened ? <ResetForm project={project} onClose={onClose} /> : null}
    </Modal>
  );
}

function ResetForm({ project, onClose }: { project: Project; onClose: () => void }) {
  const client = useQueryClient();
  const [typed, setTyped] = useState("");
  const reset = useMutation({
    mutationFn: async () => unwrap(await api.POST("/api/v1/projects/{id}/database/reset", { params: { path: { id: project.id } }, body: { confirm: typed } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Database reset", message: "It is empty now." });
      await client.invalidateQueries({ queryKey: databaseKey(project.id) });
      onClose();
    },
  });
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (typed === project.name && !reset.isPending) reset.mutate();
      }}
    >
      <Stack>
        <Text size="sm">
          This drops the project's database and makes it again, empty: every table and row is gone. Download a dump first to keep them. Running sandboxes lose
          their open connections.
        </Text>
        <TextInput
          label={
            <>
              Type <b>{project.name}</b> to confirm
            </>
          }
          value={typed}
          onChange={(event) => setTyped(event.currentTarget.value)}
          autoComplete="off"
          spellCheck={false}
          data-autofocus
          disabled={reset.isPending}
        />
        {reset.error ? <ErrorAlert error={reset.error} title="The database was not reset" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" color="red" disabled={typed !== project.name} loading={reset.isPending}>
            Reset database
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
