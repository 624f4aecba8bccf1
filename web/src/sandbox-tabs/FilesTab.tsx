// The Files tab: one folder of the sandbox's workspace or home at a time, kept current by the
// folder's watch (what the agent or a terminal changes shows up by itself), with breadcrumbs,
// a read-only viewer for text, downloads (a file as it is, a folder as a tar), and for
// editors uploads (a button, or files and folders dropped on the list), new folders, rename
// or move, and delete. Everything goes through the sandbox's supervisor, so it needs the
// sandbox running; a viewer reads and downloads.
import {
  ActionIcon,
  Alert,
  Anchor,
  Badge,
  Box,
  Breadcrumbs,
  Button,
  Card,
  Code,
  Group,
  List,
  Menu,
  Modal,
  SegmentedControl,
  Skeleton,
  Stack,
  Table,
  Text,
  VisuallyHidden,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import {
  IconDots,
  IconDownload,
  IconEye,
  IconFile,
  IconFileUnknown,
  IconFolder,
  IconFolderOpen,
  IconFolderPlus,
  IconLink,
  IconPencil,
  IconTrash,
  IconUpload,
} from "@tabler/icons-react";
import { type DragEvent, useRef, useState } from "react";
import { api, unwrap } from "../api/client.ts";
import { ErrorAlert } from "../components/ErrorAlert.tsx";
import { ago, bytes, exactTime } from "../format.ts";
import { DeleteDialog, MoveDialog, NewFolderDialog } from "./files/dialogs.tsx";
import { FileViewer } from "./files/FileViewer.tsx";
import { archiveUrl, baseName, contentUrl, crumbs, type FileEntry, joinPath, modeString, parentOf, ROOTS, rootOf } from "./files/paths.ts";
import type { UploadItem } from "./files/upload.ts";
import { droppedItems } from "./files/upload.ts";
import { UploadList, useUploads } from "./files/uploads.tsx";
import { useFolderWatch } from "./files/useFolderWatch.ts";
import type { SandboxTabProps } from "./types.ts";

export default function FilesTab({ sandbox, canEdit, active }: SandboxTabProps) {
  if (sandbox.phase !== "running") {
    return (
      <Alert color="gray" title="The sandbox is not running" role="status">
        Its files are kept on disk, but Outpost reads and writes them only through the running sandbox (never from the host, where the sandbox's symlinks could
        lead anywhere). Start it to browse, download or upload.
      </Alert>
    );
  }
  return <FileBrowser sandboxId={sandbox.id} canEdit={canEdit} active={active} />;
}

const ICONS = { dir: IconFolder, file: IconFile, symlink: IconLink, other: IconFileUnknown } as const;

function FileBrowser({ sandboxId, canEdit, active }: { sandboxId: string; canEdit: boolean; active: boolean }) {
  const [path, setPath] = useState<string>(ROOTS[0].path);
  const watch = useFolderWatch(sandboxId, path, active);
  const { uploads, start, cancel } = useUploads(sandboxId);
  const [viewing, setViewing] = useState<string | null>(null);
  const [moving, setMoving] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<{ path: string; entry: FileEntry } | null>(null);
  const [newFolder, setNewFolder] = useState(false);
  const [replacing, setReplacing] = useState<{ folder: string; items: UploadItem[]; names: string[] } | null>(null);
  const [dragging, setDragging] = useState(false);
  const input = useRef<HTMLInputElement>(null);

  const open = async (entry: FileEntry) => {
    const target = joinPath(path, entry.name);
    if (entry.type === "dir") return setPath(target);
    if (entry.type === "file") return setViewing(target);
    if (entry.type !== "symlink") return;
    // A link that stays inside is followed by the API: is it a folder or a file?
    try {
      const resolved = unwrap(await api.GET("/api/v1/sandboxes/{id}/files", { params: { path: { id: sandboxId }, query: { path: target } } }));
      if (resolved.type === "dir") setPath(target);
      else if (resolved.type === "file") setViewing(target);
    } catch (error) {
      notifications.show({ color: "red", title: `${entry.name} cannot be opened`, message: error instanceof Error ? error.message : String(error) });
    }
  };

  const upload = (items: UploadItem[]) => {
    if (items.length === 0) return;
    const existing = new Set(watch.entries.map((e) => e.name));
    const names = [...new Set(items.map((i) => i.relativePath.split("/")[0] ?? ""))].filter((name) => existing.has(name));
    if (names.length > 0) setReplacing({ folder: path, items, names });
    else void start(path, items, false);
  };

  const hasFiles = (event: DragEvent) => event.dataTransfer.types.includes("Files");
  const dropHandlers = canEdit
    ? {
        onDragOver: (event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          event.dataTransfer.dropEffect = "copy";
          setDragging(true);
        },
        onDragLeave: (event: DragEvent) => {
          if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setDragging(false);
        },
        onDrop: (event: DragEvent) => {
          if (!hasFiles(event)) return;
          event.preventDefault();
          setDragging(false);
          droppedItems(event.dataTransfer).then(upload, (error: unknown) =>
            notifications.show({ color: "red", title: "The dropped files cannot be read", message: String(error) }),
          );
        },
      }
    : {};

  const root = rootOf(path);
  const trail = crumbs(path);
  return (
    <Stack gap="sm">
      <Group justify="space-between" gap="sm">
        <Group gap="sm">
          <SegmentedControl
            size="xs"
            value={root}
            onChange={setPath}
            data={ROOTS.map((r) => ({ value: r.path, label: r.label }))}
            aria-label="Folder to browse"
          />
          <nav aria-label="Folder path">
            <Breadcrumbs separatorMargin={4}>
              {trail.map((crumb, index) =>
                index === trail.length - 1 ? (
                  <Text key={crumb.path} size="sm" ff="monospace" fw={600} aria-current="location">
                    {crumb.label}
                  </Text>
                ) : (
                  <Anchor key={crumb.path} component="button" type="button" size="sm" ff="monospace" onClick={() => setPath(crumb.path)}>
                    {crumb.label}
                  </Anchor>
                ),
              )}
            </Breadcrumbs>
          </nav>
          {watch.ended ? null : (
            <Badge
              size="xs"
              variant="dot"
              color={watch.live ? "green" : watch.error ? "yellow" : "gray"}
              title={watch.live ? "Changes in this folder show up as they happen" : (watch.error?.message ?? undefined)}
            >
              {watch.live ? "live" : watch.error ? "reconnecting" : "connecting"}
            </Badge>
          )}
        </Group>
        <Group gap="xs">
          {canEdit ? (
            <>
              <Button size="xs" leftSection={<IconUpload size={14} aria-hidden />} onClick={() => input.current?.click()}>
                Upload files
              </Button>
              <Button size="xs" variant="default" leftSection={<IconFolderPlus size={14} aria-hidden />} onClick={() => setNewFolder(true)}>
                New folder
              </Button>
            </>
          ) : null}
          <Button
            size="xs"
            variant="default"
            component="a"
            href={archiveUrl(sandboxId, path)}
            download={`${baseName(path)}.tar`}
            leftSection={<IconDownload size={14} aria-hidden />}
          >
            Download folder
          </Button>
        </Group>
      </Group>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        aria-label="Upload files"
        data-testid="upload-input"
        onChange={(event) => {
          const files = [...(event.currentTarget.files ?? [])];
          event.currentTarget.value = "";
          upload(files.map((file) => ({ relativePath: file.name, file })));
        }}
      />
      <UploadList uploads={uploads} onCancel={cancel} />

      {watch.ended ? (
        <Alert color="yellow" title="This folder is gone" role="alert">
          <Text size="sm">{watch.ended}</Text>
          <Button size="xs" mt="xs" variant="light" onClick={() => setPath(parentOf(path))}>
            Go up to {parentOf(path)}
          </Button>
        </Alert>
      ) : watch.error && !watch.folder ? (
        <Stack gap="xs" align="flex-start">
          <ErrorAlert error={watch.error} title={`${path} cannot be listed`} />
          {path !== root ? (
            <Button size="xs" variant="light" onClick={() => setPath(root)}>
              Go to {root}
            </Button>
          ) : null}
        </Stack>
      ) : (
        <Card withBorder padding={0} pos="relative" {...dropHandlers} data-testid="file-list">
          {!watch.folder ? (
            <Skeleton h={200} />
          ) : (
            <Table highlightOnHover verticalSpacing={6} aria-label={`Contents of ${path}`}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th ta="right">Size</Table.Th>
                  <Table.Th>Modified</Table.Th>
                  <Table.Th visibleFrom="md">Permissions</Table.Th>
                  <Table.Th w={48}>
                    <VisuallyHidden>Actions</VisuallyHidden>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {watch.entries.length === 0 ? (
                  <Table.Tr>
                    <Table.Td colSpan={5}>
                      <Text size="sm" c="dimmed" py="sm" ta="center">
                        This folder is empty.
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                ) : null}
                {watch.entries.map((entry) => (
                  <EntryRow
                    key={entry.name}
                    sandboxId={sandboxId}
                    folder={path}
                    entry={entry}
                    canEdit={canEdit}
                    onOpen={() => void open(entry)}
                    onMove={() => setMoving(joinPath(path, entry.name))}
                    onDelete={() => setDeleting({ path: joinPath(path, entry.name), entry })}
                  />
                ))}
              </Table.Tbody>
            </Table>
          )}
          {watch.folder?.truncated ? (
            <Text size="xs" c="dimmed" p="sm">
              This folder has more than 10 000 entries; the first 10 000 by name are listed. A terminal sees them all.
            </Text>
          ) : null}
          {canEdit ? (
            <Box
              m="sm"
              p="md"
              ta="center"
              style={{ border: "1px dashed var(--mantine-color-default-border)", borderRadius: "var(--mantine-radius-md)" }}
              data-testid="drop-zone"
            >
              <Text size="sm" c="dimmed">
                Drop files or folders here to upload them into <Code>{path}</Code>, or{" "}
                <Anchor component="button" type="button" size="sm" onClick={() => input.current?.click()}>
                  choose files
                </Anchor>
                .
              </Text>
            </Box>
          ) : (
            <Text size="xs" c="dimmed" p="sm">
              You can read and download; uploads and changes need the editor role.
            </Text>
          )}
          {dragging ? (
            <Box
              pos="absolute"
              inset={0}
              bg="var(--mantine-primary-color-light)"
              style={{
                border: "2px dashed var(--mantine-primary-color-filled)",
                borderRadius: "var(--mantine-radius-md)",
                display: "grid",
                placeItems: "center",
                pointerEvents: "none",
              }}
            >
              <Text fw={600}>Drop to upload into {path}</Text>
            </Box>
          ) : null}
        </Card>
      )}

      <FileViewer sandboxId={sandboxId} path={viewing} onClose={() => setViewing(null)} />
      <NewFolderDialog sandboxId={sandboxId} folder={path} opened={newFolder} onClose={() => setNewFolder(false)} />
      <MoveDialog sandboxId={sandboxId} from={moving} onClose={() => setMoving(null)} />
      <DeleteDialog sandboxId={sandboxId} target={deleting} onClose={() => setDeleting(null)} />
      <Modal
        opened={replacing !== null}
        onClose={() => setReplacing(null)}
        title={replacing?.names.length === 1 ? `Replace ${replacing.names[0]}?` : `Replace ${replacing?.names.length ?? 0} items?`}
      >
        <Stack>
          <Text size="sm">These are in {replacing?.folder} already; uploading replaces their files with the ones chosen:</Text>
          <List size="sm" ff="monospace">
            {replacing?.names.map((name) => (
              <List.Item key={name}>{name}</List.Item>
            ))}
          </List>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setReplacing(null)} data-autofocus>
              Cancel
            </Button>
            <Button
              onClick={() => {
                if (replacing) void start(replacing.folder, replacing.items, true);
                setReplacing(null);
              }}
            >
              Replace
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function EntryRow(props: {
  sandboxId: string;
  folder: string;
  entry: FileEntry;
  canEdit: boolean;
  onOpen: () => void;
  onMove: () => void;
  onDelete: () => void;
}) {
  const { sandboxId, folder, entry, canEdit } = props;
  const path = joinPath(folder, entry.name);
  const Icon = ICONS[entry.type];
  const isDir = entry.type === "dir";
  return (
    <Table.Tr data-name={entry.name} data-type={entry.type}>
      <Table.Td>
        <Group gap={8} wrap="nowrap">
          <Icon size={16} aria-hidden color={isDir ? "var(--mantine-primary-color-filled)" : "var(--mantine-color-dimmed)"} />
          {entry.type === "other" ? (
            <Text size="sm" ff="monospace" title="A FIFO, socket or device">
              {entry.name}
            </Text>
          ) : (
            <Anchor component="button" type="button" size="sm" ff="monospace" onClick={props.onOpen} c="var(--mantine-color-text)" ta="left">
              {entry.name}
              {isDir ? "/" : ""}
            </Anchor>
          )}
          {entry.target !== undefined ? (
            <Text size="xs" c="dimmed" ff="monospace" truncate>
              → {entry.target}
            </Text>
          ) : null}
        </Group>
      </Table.Td>
      <Table.Td ta="right">
        <Text size="sm" c="dimmed" style={{ whiteSpace: "nowrap" }}>
          {isDir ? "—" : bytes(entry.size)}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" c="dimmed" title={exactTime(entry.mtime)} style={{ whiteSpace: "nowrap" }}>
          {ago(entry.mtime)}
        </Text>
      </Table.Td>
      <Table.Td visibleFrom="md">
        <Text size="xs" c="dimmed" ff="monospace">
          {modeString(entry.mode)}
        </Text>
      </Table.Td>
      <Table.Td>
        <Menu position="bottom-end">
          <Menu.Target>
            <ActionIcon variant="subtle" color="gray" aria-label={`Actions for ${entry.name}`}>
              <IconDots size={16} aria-hidden />
            </ActionIcon>
          </Menu.Target>
          <Menu.Dropdown>
            {entry.type !== "other" ? (
              <Menu.Item leftSection={isDir ? <IconFolderOpen size={14} aria-hidden /> : <IconEye size={14} aria-hidden />} onClick={props.onOpen}>
                {isDir ? "Open" : "View"}
              </Menu.Item>
            ) : null}
            {entry.type !== "other" ? (
              <Menu.Item
                component="a"
                href={isDir ? archiveUrl(sandboxId, path) : contentUrl(sandboxId, path)}
                download={isDir ? `${entry.name}.tar` : entry.name}
                leftSection={<IconDownload size={14} aria-hidden />}
              >
                {isDir ? "Download as .tar" : "Download"}
              </Menu.Item>
            ) : null}
            {canEdit ? (
              <>
                <Menu.Divider />
                <Menu.Item leftSection={<IconPencil size={14} aria-hidden />} onClick={props.onMove}>
                  Rename or move…
                </Menu.Item>
                <Menu.Item color="red" leftSection={<IconTrash size={14} aria-hidden />} onClick={props.onDelete}>
                  Delete…
                </Menu.Item>
              </>
            ) : null}
          </Menu.Dropdown>
        </Menu>
      </Table.Td>
    </Table.Tr>
  );
}
