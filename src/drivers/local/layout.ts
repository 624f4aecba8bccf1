// Where a sandbox lives on the host, and the folders' ownership and modes.
//   <root>/                      0711, owned by the control plane: sandboxes cannot list each other
//   <root>/<id>/                 0711, owned by the control plane (the sandbox can't rename its folders)
//     spec.json                  0600  the spec as last ensured, with the host uid; its presence means "the sandbox exists"
//     runtime.json               0600  pids and start times of the running instance
//     launching                  0600  present while a launch is not yet recorded (a kill then leaves strays to sweep)
//     status.json                0600  bwrap's --json-status-fd output (how the sandbox last ended)
//     sandbox.log                0600  stdout/stderr of bwrap and the supervisor (one rotation: .1)
//     etc/                       0755  generated passwd, group, hosts (ro-bound into the sandbox)
//     link/                      0750 root:<sandbox gid> (0700 when not root), read-only at /run/outpost inside
//       link.sock                       the control plane listens here; the supervisor dials it
//       token                    0640   the secret the supervisor's hello must carry
//     workspace/ home/ state/    0700, owned by the sandbox's host uid
//     rootfs/                    an image sandbox's writable layer and mount points (rootfs/rootfs.ts)
// Linux limits a socket path to 107 bytes, so validate() checks the link socket's length
// before anything is created.
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const SANDBOX_FOLDERS = ["workspace", "home", "state"] as const;
export type SandboxFolder = (typeof SANDBOX_FOLDERS)[number];

/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH = 107;
export const LINK_SOCKET_NAME = "link.sock";

export interface SandboxPaths {
  root: string;
  dir: string;
  workspace: string;
  home: string;
  state: string;
  etc: string;
  link: string;
  linkSocket: string;
  linkToken: string;
  /** The egress proxy's and model gateway's sockets (the supervisor bridges to them). */
  egressSocket: string;
  gatewaySocket: string;
  log: string;
  specFile: string;
  runtimeFile: string;
  launchingFile: string;
  statusFile: string;
}

export interface Owner {
  uid: number;
  gid: number;
}

export function sandboxPaths(root: string, sandboxId: string): SandboxPaths {
  const dir = join(root, sandboxId);
  return {
    root,
    dir,
    workspace: join(dir, "workspace"),
    home: join(dir, "home"),
    state: join(dir, "state"),
    etc: join(dir, "etc"),
    link: join(dir, "link"),
    linkSocket: join(dir, "link", LINK_SOCKET_NAME),
    linkToken: join(dir, "link", "token"),
    egressSocket: join(dir, "link", "egress.sock"),
    gatewaySocket: join(dir, "link", "gateway.sock"),
    log: join(dir, "sandbox.log"),
    specFile: join(dir, "spec.json"),
    runtimeFile: join(dir, "runtime.json"),
    launchingFile: join(dir, "launching"),
    statusFile: join(dir, "status.json"),
  };
}

/** Names a sandbox's processes on this host (see launcher.ts): the id plus a short hash
 *  of the root, so two installations with the same id never mistake each other's. */
export function sandboxMarker(root: string, sandboxId: string): string {
  return `${sandboxId}@${createHash("sha256").update(root).digest("hex").slice(0, 12)}`;
}

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === "ENOENT";

/** mkdir that refuses to follow a symlink planted where a folder should be. */
function ensureDir(path: string, mode: number): void {
  try {
    const info = lstatSync(path);
    if (!info.isDirectory()) throw new Error(`${path} exists and is not a folder`);
  } catch (error) {
    if (!isMissing(error)) throw error;
    mkdirSync(path, { mode });
  }
  // mkdir's mode goes through the umask, and an existing folder may have been loosened.
  chmodSync(path, mode);
}

/** The common parent of all sandboxes. Only tightened when we own it (never chmod a
 *  folder someone else handed us). */
export function prepareRoot(root: string): void {
  mkdirSync(dirname(root), { recursive: true });
  try {
    mkdirSync(root, { mode: 0o711 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  if (statSync(root).uid === process.getuid?.()) chmodSync(root, 0o711);
}

/** Creates what is missing and resets modes and owners (not recursively: the content of
 *  the folders belongs to the sandbox, and a recursive chown would follow its symlinks). */
export function prepareSandboxFolders(paths: SandboxPaths, owner?: Owner): void {
  ensureDir(paths.dir, 0o711);
  ensureDir(paths.etc, 0o755);
  for (const name of SANDBOX_FOLDERS) {
    const path = paths[name];
    ensureDir(path, 0o700);
    if (owner) chownSync(path, owner.uid, owner.gid);
  }
  prepareLinkFolder(paths, owner);
}

/** The link folder: ours (the sandbox may read, never write), with the sandbox's token.
 *  The token is made once and kept, so a supervisor that outlives a control plane still
 *  proves itself to the next one. */
function prepareLinkFolder(paths: SandboxPaths, owner?: Owner): void {
  ensureDir(paths.link, owner ? 0o750 : 0o700);
  if (owner) chownSync(paths.link, process.getuid?.() ?? 0, owner.gid);
  if (!existsSync(paths.linkToken)) {
    const temporary = `${paths.linkToken}.tmp`;
    writeFileSync(temporary, `${randomBytes(32).toString("base64url")}\n`, { mode: 0o640 });
    renameSync(temporary, paths.linkToken);
  }
  chmodSync(paths.linkToken, 0o640);
  if (owner) chownSync(paths.linkToken, process.getuid?.() ?? 0, owner.gid);
}

/** The first folder on the way to `path` (or `path` itself) that `owner` cannot pass
 *  through (or read, for the last element when `read` is set); null when reachable.
 *  Only looks at mode bits and owners, like the kernel does for an unprivileged uid
 *  (ACLs are ignored: a false alarm there is a clear message, not a security hole). */
export function firstUnreachable(path: string, owner: Owner, options: { read?: boolean } = {}): string | null {
  const chain: string[] = [];
  for (let current = path; ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const [index, folder] of chain.entries()) {
    const last = index === chain.length - 1;
    let info: ReturnType<typeof statSync>;
    try {
      info = statSync(folder);
    } catch {
      return folder;
    }
    const bits = info.uid === owner.uid ? (info.mode >> 6) & 7 : info.gid === owner.gid ? (info.mode >> 3) & 7 : info.mode & 7;
    const need = last && options.read ? (info.isDirectory() ? 0o5 : 0o4) : info.isDirectory() ? 0o1 : 0o4;
    if ((bits & need) !== need) return folder;
  }
  return null;
}

/** rm -rf that also works when the sandbox left folders without write permission (only
 *  matters when the control plane is not root). Never follows symlinks. */
export function forceRemove(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EACCES" && code !== "EPERM") throw error;
  }
  openUp(path);
  rmSync(path, { recursive: true, force: true });
}

function openUp(path: string): void {
  let info: ReturnType<typeof lstatSync>;
  try {
    info = lstatSync(path);
  } catch {
    return;
  }
  if (!info.isDirectory()) return;
  try {
    chmodSync(path, 0o700);
  } catch {
    // not ours: the retry will report it
  }
  for (const entry of readdirSync(path)) openUp(join(path, entry));
}

/** Deletes the sandbox's folders and files; with keepWorkspace only `workspace/` stays.
 *  spec.json goes last so a remove killed midway is still listed and can be finished. */
export function removeSandboxFolders(paths: SandboxPaths, keepWorkspace: boolean): void {
  for (const path of [paths.home, paths.state, paths.link, paths.etc, paths.runtimeFile, paths.launchingFile, paths.statusFile, paths.log, `${paths.log}.1`]) {
    forceRemove(path);
  }
  forceRemove(join(paths.dir, "rootfs")); // an image sandbox's writable layer (unmounted first)
  forceRemove(join(paths.dir, "run")); // left by protocol 1
  if (!keepWorkspace) forceRemove(paths.workspace);
  forceRemove(paths.specFile);
  if (!keepWorkspace) forceRemove(paths.dir);
}

/** Moves a kept workspace (of a deleted sandbox) into a new sandbox that has none yet, and
 *  gives every entry to the new owner. lchown, never chown: the entries are the old
 *  sandbox's, and a symlink among them must not redirect the change to a host file.
 *  Returns false when there is nothing to take over, and when `from` still exists (its
 *  spec.json is there): a sandbox that was not removed keeps its workspace and its folder. */
export function adoptKeptWorkspace(from: SandboxPaths, to: SandboxPaths, owner?: Owner): boolean {
  if (existsSync(from.specFile) || !existsSync(from.workspace) || existsSync(to.workspace)) return false;
  mkdirSync(to.dir, { recursive: true, mode: 0o711 });
  renameSync(from.workspace, to.workspace);
  if (owner) lchownTree(to.workspace, owner);
  forceRemove(from.dir);
  return true;
}

function lchownTree(path: string, owner: Owner): void {
  lchownSync(path, owner.uid, owner.gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) lchownTree(child, owner);
    else lchownSync(child, owner.uid, owner.gid);
  }
}
