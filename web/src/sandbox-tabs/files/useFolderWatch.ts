// A folder's entries, kept current by its watch (GET …/files/watch?path=, SSE): `snapshot`
// is the whole folder, each `change` one name (entry null: gone), `overflow` says to list
// again (a new connection brings a new snapshot), `end` that the folder itself went away.
// The watch runs only while `enabled` (the tab shown, the sandbox running): coming back
// starts from a fresh snapshot, which is the truth.
import { useEffect, useMemo, useState } from "react";
import type { ApiError } from "../../api/client.ts";
import { followSse } from "../../api/sse.ts";
import { type FileEntry, type FileResource, watchUrl } from "./paths.ts";

export interface FolderState {
  /** The folder as last listed (its entries are in `entries`); null until the first snapshot. */
  folder: FileResource | null;
  /** Folders first, then files, each by name. */
  entries: FileEntry[];
  /** The watch is connected. */
  live: boolean;
  error: ApiError | null;
  /** The folder was deleted or moved away (the server's reason). */
  ended: string | null;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
const isFolder = (entry: FileEntry) => entry.type === "dir";

export function useFolderWatch(sandboxId: string, path: string, enabled: boolean): FolderState {
  const [folder, setFolder] = useState<FileResource | null>(null);
  const [byName, setByName] = useState<ReadonlyMap<string, FileEntry>>(new Map());
  const [live, setLive] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const [ended, setEnded] = useState<string | null>(null);
  // Bumped on `overflow`: a new connection, a new snapshot.
  const [generation, setGeneration] = useState(0);

  // A new folder starts blank (not the previous folder's entries under the new path).
  // biome-ignore lint/correctness/useExhaustiveDependencies: resets on a change of folder only
  useEffect(() => {
    setFolder(null);
    setByName(new Map());
    setError(null);
    setEnded(null);
  }, [sandboxId, path]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: generation restarts the watch
  useEffect(() => {
    if (!enabled) return;
    const abort = new AbortController();
    void followSse({
      url: watchUrl(sandboxId, path),
      signal: abort.signal,
      onOpen: () => {
        setLive(true);
        setError(null);
      },
      onError: (problem) => {
        setLive(false);
        setError(problem);
      },
      onEvent: (type, data) => {
        if (type === "snapshot") {
          const snapshot = data as FileResource;
          setFolder(snapshot);
          setByName(new Map((snapshot.entries ?? []).map((e) => [e.name, e])));
        } else if (type === "change") {
          const { name, entry } = data as { name: string; entry: FileEntry | null };
          setByName((current) => {
            const next = new Map(current);
            if (entry) next.set(name, entry);
            else next.delete(name);
            return next;
          });
        } else if (type === "overflow") {
          abort.abort();
          setGeneration((g) => g + 1);
        } else if (type === "end") {
          setEnded((data as { reason?: string }).reason ?? "The folder is gone.");
          abort.abort();
        }
      },
    }).finally(() => setLive(false));
    return () => abort.abort();
  }, [sandboxId, path, enabled, generation]);

  const entries = useMemo(
    () => [...byName.values()].sort((a, b) => (isFolder(a) === isFolder(b) ? collator.compare(a.name, b.name) : isFolder(a) ? -1 : 1)),
    [byName],
  );
  return { folder, entries, live, error, ended };
}
