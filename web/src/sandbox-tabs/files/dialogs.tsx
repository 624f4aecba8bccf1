// The Files tab's changes, each a small dialog: a new folder, a rename or move (the new path
// in full), a delete (a folder with everything in it, after saying so). The watch shows the
// result; these only report what the server refused.
import { Button, Code, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import { api, unwrap } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { baseName, type FileEntry, joinPath, nameProblem, parentOf, rootOf } from "./paths.ts";

function useSubmit(action: () => Promise<void>, onDone: () => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async () => {
    setBusy(true);
    setError(null);
    try {
      await action();
      onDone();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, submit };
}

export function NewFolderDialog({ sandboxId, folder, opened, onClose }: { sandboxId: string; folder: string; opened: boolean; onClose: () => void }) {
  return (
    <Modal opened={opened} onClose={onClose} title="New folder">
      {opened ? <NewFolderForm sandboxId={sandboxId} folder={folder} onClose={onClose} /> : null}
    </Modal>
  );
}

function NewFolderForm({ sandboxId, folder, onClose }: { sandboxId: string; folder: string; onClose: () => void }) {
  const [name, setName] = useState("");
  const problem = name === "" ? null : nameProblem(name);
  const { busy, error, submit } = useSubmit(async () => {
    unwrap(await api.POST("/api/v1/sandboxes/{id}/files/mkdir", { params: { path: { id: sandboxId } }, body: { path: joinPath(folder, name) } }));
  }, onClose);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (!nameProblem(name)) void submit();
      }}
    >
      <Stack>
        <TextInput
          label="Name"
          description={
            <>
              In <Code>{folder}</Code>
            </>
          }
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
          error={problem}
          autoComplete="off"
          spellCheck={false}
          data-autofocus
        />
        {error ? <ErrorAlert error={error} title="The folder was not made" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} disabled={nameProblem(name) !== null}>
            Create folder
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function MoveDialog({ sandboxId, from, onClose }: { sandboxId: string; from: string | null; onClose: () => void }) {
  return (
    <Modal opened={from !== null} onClose={onClose} title={from ? `Rename or move ${baseName(from)}` : ""}>
      {from ? <MoveForm sandboxId={sandboxId} from={from} onClose={onClose} /> : null}
    </Modal>
  );
}

function MoveForm({ sandboxId, from, onClose }: { sandboxId: string; from: string; onClose: () => void }) {
  const [to, setTo] = useState(from);
  const root = rootOf(from);
  const problem =
    to === from
      ? null
      : !to.startsWith(`${root}/`)
        ? `Stay inside ${root}: the workspace and home are separate file systems.`
        : to.split("/").some((part) => part === "." || part === "..")
          ? "Name the new path in full, without . or .."
          : nameProblem(baseName(to));
  const { busy, error, submit } = useSubmit(async () => {
    unwrap(await api.POST("/api/v1/sandboxes/{id}/files/move", { params: { path: { id: sandboxId } }, body: { from, to: to.replace(/\/+$/, "") } }));
  }, onClose);
  return (
    <form
      onSubmit={(event) => {
        event.preventDefault();
        if (!problem && to !== from) void submit();
      }}
    >
      <Stack>
        <TextInput
          label="New path"
          description="The full path, name included: change the name to rename, the folders to move."
          value={to}
          onChange={(e) => setTo(e.currentTarget.value)}
          onFocus={(e) => {
            // The name is what people change most: select it, not the folders before it.
            const input = e.currentTarget;
            input.setSelectionRange(parentOf(from).length + 1, input.value.length);
          }}
          error={problem}
          autoComplete="off"
          spellCheck={false}
          ff="monospace"
          data-autofocus
        />
        {error ? <ErrorAlert error={error} title="It was not moved" /> : null}
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" loading={busy} disabled={problem !== null || to === from}>
            Move
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

export function DeleteDialog({ sandboxId, target, onClose }: { sandboxId: string; target: { path: string; entry: FileEntry } | null; onClose: () => void }) {
  return (
    <Modal opened={target !== null} onClose={onClose} title={target ? `Delete ${target.entry.name}?` : ""}>
      {target ? <DeleteForm sandboxId={sandboxId} path={target.path} entry={target.entry} onClose={onClose} /> : null}
    </Modal>
  );
}

function DeleteForm({ sandboxId, path, entry, onClose }: { sandboxId: string; path: string; entry: FileEntry; onClose: () => void }) {
  const folder = entry.type === "dir";
  const { busy, error, submit } = useSubmit(async () => {
    const query = folder ? { path, recursive: "true" as const } : { path };
    unwrap(await api.DELETE("/api/v1/sandboxes/{id}/files", { params: { path: { id: sandboxId }, query } }));
  }, onClose);
  return (
    <Stack>
      <Text size="sm">
        {folder
          ? "The folder and everything in it are deleted"
          : entry.type === "symlink"
            ? "The link is deleted, not what it points to"
            : "The file is deleted"}
        , for good: there is no trash.
      </Text>
      <Code>{path}</Code>
      {error ? <ErrorAlert error={error} title="It was not deleted" /> : null}
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose} data-autofocus>
          Cancel
        </Button>
        <Button color="red" loading={busy} onClick={() => void submit()}>
          Delete{folder ? " folder" : ""}
        </Button>
      </Group>
    </Stack>
  );
}
