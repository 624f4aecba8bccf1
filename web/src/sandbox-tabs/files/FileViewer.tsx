// A file's contents, read-only: the first PREVIEW_BYTES (a Range request, so a large log
// costs no more than that), shown as text when they are text; anything else is offered as a
// download. Text is rendered as text by React, never as markup.
import { Alert, Button, Code, Group, Loader, Modal, ScrollArea, Stack, Text } from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { ApiError, type ErrorBody, observedFetch } from "../../api/client.ts";
import { ErrorAlert } from "../../components/ErrorAlert.tsx";
import { bytes } from "../../format.ts";
import { baseName, contentUrl } from "./paths.ts";

/** How much of a file the viewer reads. */
export const PREVIEW_BYTES = 256 * 1024;
/** A NUL in the first this many bytes: not text. */
const SNIFF_BYTES = 8192;

interface Preview {
  text: string | null;
  size: number;
  shown: number;
}

async function readPreview(sandboxId: string, path: string, signal: AbortSignal): Promise<Preview> {
  const response = await observedFetch(new Request(contentUrl(sandboxId, path), { headers: { range: `bytes=0-${PREVIEW_BYTES - 1}` }, signal }));
  if (!response.ok) {
    const body = (await response.json().catch(() => undefined)) as { error?: ErrorBody } | undefined;
    throw new ApiError(response.status, body?.error);
  }
  const data = new Uint8Array(await response.arrayBuffer());
  // 206: "bytes 0-262143/1048576"; 200: the whole file.
  const total = Number(/\/(\d+)$/.exec(response.headers.get("content-range") ?? "")?.[1] ?? data.length);
  return { text: decodeText(data, data.length < total), size: total, shown: data.length };
}

/** The bytes as UTF-8 text, or null when they are not text. */
function decodeText(data: Uint8Array, cut: boolean): string | null {
  if (data.subarray(0, SNIFF_BYTES).includes(0)) return null;
  // A cut may fall inside a character: up to 3 bytes at the end may be its start.
  for (let trim = 0; trim <= (cut ? 3 : 0); trim++) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(0, data.length - trim));
    } catch {
      // try one byte shorter
    }
  }
  return null;
}

export function FileViewer({ sandboxId, path, onClose }: { sandboxId: string; path: string | null; onClose: () => void }) {
  return (
    <Modal opened={path !== null} onClose={onClose} title={path ? baseName(path) : ""} size="min(1100px, 95vw)">
      {path ? <ViewerBody sandboxId={sandboxId} path={path} /> : null}
    </Modal>
  );
}

function ViewerBody({ sandboxId, path }: { sandboxId: string; path: string }) {
  const preview = useQuery({
    queryKey: ["file-preview", sandboxId, path],
    queryFn: ({ signal }) => readPreview(sandboxId, path, signal),
    staleTime: 0,
    gcTime: 0,
  });
  const download = (
    <Button
      component="a"
      href={contentUrl(sandboxId, path)}
      download={baseName(path)}
      size="xs"
      variant="default"
      leftSection={<IconDownload size={14} aria-hidden />}
    >
      Download
    </Button>
  );
  if (preview.isPending) return <Loader size="sm" aria-label="Loading the file" />;
  if (preview.error) return <ErrorAlert error={preview.error} title="The file cannot be read" onRetry={() => void preview.refetch()} />;
  const { text, size, shown } = preview.data;
  return (
    <Stack gap="sm">
      <Group justify="space-between">
        <Text size="sm" c="dimmed" ff="monospace">
          {path} · {bytes(size)}
        </Text>
        {download}
      </Group>
      {text === null ? (
        <Alert color="gray" title="Not a text file" role="status">
          This file holds binary data; download it to open it with a program that understands it.
        </Alert>
      ) : (
        <>
          {shown < size ? (
            <Text size="sm" role="status">
              Showing the first {bytes(shown)} of {bytes(size)}; download the file for the rest.
            </Text>
          ) : null}
          <ScrollArea.Autosize mah="65vh" type="auto">
            <Code block data-testid="file-text" style={{ whiteSpace: "pre", tabSize: 4 }}>
              {text === "" ? "(empty file)" : text}
            </Code>
          </ScrollArea.Autosize>
        </>
      )}
    </Stack>
  );
}
