// Uploads in flight, shown with their progress: one file at a time per batch (a big upload
// does not split the link's bandwidth with many others; the sandbox's disk takes them in
// order), each cancellable. Finished ones leave the list; failed ones stay with the reason
// until dismissed.
import { ActionIcon, Group, Progress, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconX } from "@tabler/icons-react";
import { useState } from "react";
import { ApiError } from "../../api/client.ts";
import { bytes } from "../../format.ts";
import { joinPath } from "./paths.ts";
import { type UploadItem, uploadFile } from "./upload.ts";

interface Upload {
  id: number;
  path: string;
  total: number;
  loaded: number;
  status: "queued" | "uploading" | "failed";
  error?: string;
  abort: AbortController;
}

let nextId = 1;

export function useUploads(sandboxId: string) {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const patch = (id: number, change: Partial<Upload>) => setUploads((all) => all.map((u) => (u.id === id ? { ...u, ...change } : u)));
  const drop = (id: number) => setUploads((all) => all.filter((u) => u.id !== id));

  const start = async (folder: string, items: UploadItem[], overwrite: boolean) => {
    const batch = items.map(({ relativePath, file }) => ({
      upload: { id: nextId++, path: joinPath(folder, relativePath), total: file.size, loaded: 0, status: "queued" as const, abort: new AbortController() },
      file,
    }));
    setUploads((all) => [...all, ...batch.map((b) => b.upload)]);
    let done = 0;
    for (const { upload, file } of batch) {
      if (upload.abort.signal.aborted) continue;
      patch(upload.id, { status: "uploading" });
      try {
        await uploadFile(sandboxId, upload.path, file, { overwrite, signal: upload.abort.signal, onProgress: (loaded) => patch(upload.id, { loaded }) });
        drop(upload.id);
        done++;
      } catch (error) {
        if (upload.abort.signal.aborted) continue;
        const message =
          error instanceof ApiError ? `${error.message}${error.hint ? ` ${error.hint}` : ""}` : error instanceof Error ? error.message : String(error);
        patch(upload.id, { status: "failed", error: message });
      }
    }
    if (done > 0) notifications.show({ color: "green", title: done === 1 ? "Uploaded 1 file" : `Uploaded ${done} files`, message: folder });
  };

  const cancel = (id: number) => {
    const upload = uploads.find((u) => u.id === id);
    upload?.abort.abort();
    drop(id);
  };
  return { uploads, start, cancel };
}

export function UploadList({ uploads, onCancel }: { uploads: Upload[]; onCancel: (id: number) => void }) {
  if (uploads.length === 0) return null;
  return (
    <Stack gap={6} aria-label="Uploads" role="list">
      {uploads.map((u) => (
        <Group key={u.id} gap="sm" wrap="nowrap" role="listitem">
          <Stack gap={2} style={{ flex: 1, minWidth: 0 }}>
            <Group justify="space-between" gap="xs" wrap="nowrap">
              <Text size="sm" ff="monospace" truncate="start" title={u.path}>
                {u.path}
              </Text>
              <Text size="xs" c={u.status === "failed" ? "red" : "dimmed"} style={{ flexShrink: 0 }}>
                {u.status === "queued" ? "waiting" : u.status === "failed" ? "failed" : `${bytes(u.loaded)} of ${bytes(u.total)}`}
              </Text>
            </Group>
            {u.status === "failed" ? (
              <Text size="xs" c="red" role="alert">
                {u.error}
              </Text>
            ) : (
              <Progress
                value={u.total === 0 ? 100 : (100 * u.loaded) / u.total}
                size="sm"
                animated={u.status === "uploading"}
                aria-label={`Uploading ${u.path}`}
              />
            )}
          </Stack>
          <ActionIcon
            variant="subtle"
            color="gray"
            onClick={() => onCancel(u.id)}
            aria-label={u.status === "failed" ? `Dismiss ${u.path}` : `Cancel the upload of ${u.path}`}
          >
            <IconX size={16} aria-hidden />
          </ActionIcon>
        </Group>
      ))}
    </Stack>
  );
}
