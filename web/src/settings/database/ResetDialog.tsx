// Resetting drops the database and makes it again, empty, under the same name and login:
// every table and row goes. Asked for by typing the project's name, which the server checks
// too (POST …/database/reset {confirm}).
import { Modal, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type Project, unwrap } from "../../api/client.ts";
import { databaseKey } from "./queries.ts";
import { TypedConfirmForm } from "./TypedConfirmForm.tsx";

export function ResetDialog({ project, opened, onClose }: { project: Project; opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="Reset the database?">
      {opened ? <ResetForm project={project} onClose={onClose} /> : null}
    </Modal>
  );
}

function ResetForm({ project, onClose }: { project: Project; onClose: () => void }) {
  const client = useQueryClient();
  const reset = useMutation({
    mutationFn: async (typed: string) =>
      unwrap(await api.POST("/api/v1/projects/{id}/database/reset", { params: { path: { id: project.id } }, body: { confirm: typed } })),
    onSuccess: async () => {
      notifications.show({ color: "green", title: "Database reset", message: "It is empty now." });
      await client.invalidateQueries({ queryKey: databaseKey(project.id) });
      onClose();
    },
  });
  return (
    <TypedConfirmForm
      name={project.name}
      explanation={
        <Text size="sm">
          This drops the project's database and makes it again, empty: every table and row is gone. Download a dump first to keep them. Running sandboxes lose
          their open connections.
        </Text>
      }
      action="Reset database"
      pending={reset.isPending}
      error={reset.error}
      errorTitle="The database was not reset"
      onConfirm={(typed) => reset.mutate(typed)}
      onClose={onClose}
    />
  );
}
