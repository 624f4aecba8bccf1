// Paths in a sandbox as the Files tab shows them: the two roots the API serves (docs/api.md,
// "Files"), breadcrumbs, and the URLs of downloads (same origin: the session cookie rides
// along, and the server sends them as attachments that never render as pages).
import type { Schemas } from "../../api/client.ts";

export type FileResource = Schemas["File"];
export type FileEntry = Schemas["FileEntry"];

export const ROOTS = [
  { path: "/workspace", label: "Workspace" },
  { path: "/home/outpost", label: "Home" },
] as const;

export function rootOf(path: string): string {
  return ROOTS.find((r) => path === r.path || path.startsWith(`${r.path}/`))?.path ?? ROOTS[0].path;
}

export function joinPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

export function parentOf(path: string): string {
  const root = rootOf(path);
  if (path === root) return root;
  const parent = path.slice(0, path.lastIndexOf("/"));
  return parent.length < root.length ? root : parent;
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** The root, then each folder down to `path`. */
export function crumbs(path: string): { label: string; path: string }[] {
  const root = ROOTS.find((r) => r.path === rootOf(path)) ?? ROOTS[0];
  const out: { label: string; path: string }[] = [{ label: root.path, path: root.path }];
  let at: string = root.path;
  for (const part of path.slice(root.path.length).split("/").filter(Boolean)) {
    at = joinPath(at, part);
    out.push({ label: part, path: at });
  }
  return out;
}

/** A name for a new or renamed entry: one path part, not `.` or `..`. Null when it is fine. */
export function nameProblem(name: string): string | null {
  if (name.trim() === "") return "Give it a name.";
  if (name.includes("/")) return "A name cannot contain /.";
  if (name === "." || name === "..") return "That name is taken by the file system.";
  if (name.includes("\u0000")) return "A name cannot contain NUL.";
  return null;
}

const base = (sandboxId: string) => `/api/v1/sandboxes/${encodeURIComponent(sandboxId)}/files`;

export const contentUrl = (sandboxId: string, path: string) => `${base(sandboxId)}/content?path=${encodeURIComponent(path)}`;
export const archiveUrl = (sandboxId: string, path: string) => `${base(sandboxId)}/archive?path=${encodeURIComponent(path)}`;
export const watchUrl = (sandboxId: string, path: string) => `${base(sandboxId)}/watch?path=${encodeURIComponent(path)}`;

/** `rwxr-xr-x` from the permission bits. */
export function modeString(mode: number): string {
  const bits = "rwxrwxrwx";
  let out = "";
  for (let i = 0; i < 9; i++) out += mode & (1 << (8 - i)) ? bits[i] : "-";
  return out;
}
