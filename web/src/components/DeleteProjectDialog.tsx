// Deleting a project asks for its name, typed. A project with live sandboxes cannot be
// deleted (409 PROJECT_HAS_SANDBOXES), so the dialog deletes them first, waits until the
// events stream reports them gone, then deletes the project.
import { Button, Code, Group, List, Modal, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api, type Project, unwrap } from "../api/client.ts";
import { useSandboxes } from "../api/queries.ts";
import { ErrorAlert } from "./ErrorAlert.tsx";
import { PhaseBadge } from "./PhaseBadge.tsx";

type Step = "confirm" | "sandboxes" | "project";

export function DeleteProjectDialog({ project, onClose, onDeleted }: { project: Project | null; onClose: () => void; onDeleted?: () => void }) {
  return (
    <Modal opened={project !== null} onClose={onClose} title={project ? `Delete ${project.name}?` : ""}>
      {project ? <DeleteProjectForm project={project} onClose={onClose} onDeleted={onDeleted} /> : null}
    </Modal>
  );
}

function DeleteProjectForm({ project, onClose, onDeleted }: { project: Project; onClose: () => void; onDeleted?: () => void }) {
  const client = useQueryClient();
  const sandboxes = useSandboxes(project.id);
  const live = (sandboxes.data ?? []).filter((s) => s.phase !== "deleted");
  const [typed, setTyped] = useState("");
  const [step, setStep] = useState<Step>("confirm");
  const [error, setError] = useState<unknown>(null);

  const deleteProject = async () => {
    setStep("project");
    try {
      unwrap(await api.DELETE("/api/v1/projects/{id}", { params: { path: { id: project.id } } }));
      notifications.show({ color: "green", title: "Project deleted", message: project.name });
      await client.invalidateQueries({ queryKey: ["projects"] });
      onDeleted?.();
      onClose();
    } catch (caught) {
      setError(caught);
      setStep("confirm");
    }
  };

  const confirm = async () => {
    setError(null);
    if (live.length === 0) return deleteProject();
    setStep("sandboxes");
    try {
      for (const sandbox of live.filter((s) => s.desired !== "deleted")) {
        unwrap(await api.DELETE("/api/v1/sandboxes/{id}", { params: { path: { id: sandbox.id } } }));
      }
      await client.invalidateQueries({ queryKey: ["sandboxes"] });
    } catch (caught) {
      setError(caught);
      setStep("confirm");
    }
  };

  // Once the last sandbox is gone (the events stream refreshes the list), the project goes.
  useEffect(() => {
    if (step === "sandboxes" && sandboxes.isSuccess && !sandboxes.isFetching && live.length === 0) void deleteProject();
  });

  const busy = step !== "confirm";
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (typed === project.name && !busy) void confirm();
      }}
    >
      <Stack>
        <Text size="sm">
          This deletes the project, its variables, secrets and egress record
          {live.length ? ", and its sandboxes with their workspaces:" : "."}
        </Text>
        {live.length ? (
          <List size="sm" spacing={4}>
            {live.map((s) => (
              <List.Item key={s.id}>
                <Group gap="xs">
                  <Code>{s.name}</Code>
                  <PhaseBadge phase={s.phase} size="xs" />
                </Group>
              </List.Item>
            ))}
          </List>
        ) : null}
        <TextInput
          label={
            <>
              Type <b>{project.name}</b> to confirm
            </>
          }
          value={typed}
          onChange={(e) => setTyped(e.currentTarget.value)}
          autoComplete="off"
          spellCheck={false}
          data-autofocus
          disabled={busy}
        />
        {error ? <ErrorAlert error={error} title="The project was not deleted" /> : null}
        {step === "sandboxes" ? (
          <Text size="sm" role="status">
            Deleting {live.length === 1 ? "its sandbox" : `its ${live.length} sandboxes`}…
          </Text>
        ) : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" color="red" disabled={typed !== project.name} loading={busy}>
            Delete project
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
