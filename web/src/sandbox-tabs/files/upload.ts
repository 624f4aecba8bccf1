// Uploads: each file is the raw body of PUT …/files/content, sent by the browser straight from
// the File (it reads the disk as the request goes: nothing is loaded into memory here), with
// XMLHttpRequest because fetch reports no upload progress. Dropped folders are walked with
// the File and Directory Entries API and their files put under the same relative paths.
import { ApiError, type ErrorBody } from "../../api/client.ts";
import { connection } from "../../api/connection.ts";
import type { FileResource } from "./paths.ts";

export interface UploadItem {
  /** Relative to the folder it is dropped into: `a.txt`, or `dir/sub/a.txt` from a dropped folder. */
  relativePath: string;
  file: File;
}

export interface UploadOptions {
  overwrite: boolean;
  onProgress: (loaded: number) => void;
  signal?: AbortSignal;
}

export function uploadFile(sandboxId: string, path: string, file: File, { overwrite, onProgress, signal }: UploadOptions): Promise<FileResource> {
  const query = new URLSearchParams({ path, parents: "true", overwrite: String(overwrite) });
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/files/content?${query}`);
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status === 200) return resolve(xhr.response as FileResource);
      if (xhr.status === 401) connection.sessionLost();
      reject(new ApiError(xhr.status, (xhr.response as { error?: ErrorBody } | null)?.error));
    };
    xhr.onerror = () => reject(new Error("The upload was cut off: the server could not be reached."));
    xhr.onabort = () => reject(new DOMException("The upload was cancelled.", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(file);
  });
}

/** What was dropped: files as they are, folders walked (an entry API is only there during the drop event). */
export async function droppedItems(transfer: DataTransfer): Promise<UploadItem[]> {
  const entries = [...transfer.items].flatMap((item) => {
    const entry = item.kind === "file" ? item.webkitGetAsEntry?.() : null;
    return entry ? [entry] : [];
  });
  if (entries.length === 0) return [...transfer.files].map((file) => ({ relativePath: file.name, file }));
  const out: UploadItem[] = [];
  for (const entry of entries) await walk(entry, "", out);
  return out;
}

async function walk(entry: FileSystemEntry, prefix: string, out: UploadItem[]): Promise<void> {
  const relativePath = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ relativePath, file });
    return;
  }
  if (!entry.isDirectory) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches until an empty one.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, relativePath, out);
  }
}
