// The bwrap command line for one container: the host's root read-only as the "image", the
// image's own folders (FakeKubeletOptions.imageFiles) and the pod's volumes bound on top, a
// private /tmp, /proc and /dev, a pid and IPC namespace of its own, and the host network.
//
// Why not simply `--ro-bind / /`: bwrap must create a mount point for every bind whose target
// the host lacks (/workspace, /home/outpost, /opt/outpost…), and it cannot create one inside a
// read-only bind of the host. Instead it builds the same view from bwrap's own root, which is
// a writable tmpfs: every top-level host entry is bound read-only on its own (symlinks like
// /bin → usr/bin copied as symlinks). A host folder that must receive a new mount point
// (/home for /home/outpost) is "opened": made as a fresh folder on that tmpfs with each of its
// host entries bound inside it one by one, recursively down to the missing part, which bwrap
// can then create. The container sees the host's files everywhere, none of the host changes.
// Limit: a target that is missing inside a read-only bound folder (an imageFiles folder or a
// readOnly volume) cannot be created, and bwrap then fails with the reason in the log.
import { existsSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";

export interface SandboxMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface SandboxPlan {
  imageFiles: Record<string, string>;
  mounts: SandboxMount[];
  hostname: string;
  command: string[];
  workingDir?: string;
  /** set for a non-root securityContext.runAsUser */
  user?: { uid: number; gid: number };
}

/** Mounted by bwrap itself below; never copied from the host. */
const OWN_MOUNTS = new Set(["/proc", "/dev", "/tmp"]);

export function bwrapArgs(plan: SandboxPlan): string[] {
  const binds = [...Object.entries(plan.imageFiles).map(([target, source]) => ({ source, target, readOnly: true })), ...plan.mounts].map((bind) => ({
    ...bind,
    target: hostCanonical(bind.target),
  }));
  binds.sort((a, b) => depth(a.target) - depth(b.target));
  const workingDir = plan.workingDir ? hostCanonical(plan.workingDir) : undefined;

  const opened = new Set<string>(["/"]);
  for (const target of [...binds.map((bind) => bind.target), ...(workingDir ? [workingDir] : [])]) {
    if (
      existsSync(target) ||
      isBelowAny(target, [...OWN_MOUNTS]) ||
      isBelowAny(
        target,
        binds.map((bind) => bind.target),
      )
    )
      continue;
    for (let folder = dirname(target); folder !== "/"; folder = dirname(folder)) if (existsSync(folder)) opened.add(folder);
  }

  const args: string[] = [];
  mirror("/", opened, args);
  args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp");
  for (const bind of binds) args.push(bind.readOnly ? "--ro-bind" : "--bind", bind.source, bind.target);
  if (workingDir) {
    if (!existsInSandbox(workingDir, binds)) args.push("--dir", workingDir);
    args.push("--chdir", workingDir);
  }
  if (plan.user) args.push("--unshare-user", "--uid", String(plan.user.uid), "--gid", String(plan.user.gid));
  args.push("--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", plan.hostname, "--die-with-parent", "--", ...plan.command);
  return args;
}

/** Recreates a host folder's entries inside the sandbox's tmpfs root, opening further folders
 *  where new mount points will be needed. */
function mirror(folder: string, opened: Set<string>, args: string[]): void {
  for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(folder, entry.name);
    if (OWN_MOUNTS.has(path)) continue;
    if (opened.has(path)) {
      args.push("--perms", (statSync(path).mode & 0o7777).toString(8).padStart(4, "0"), "--dir", path);
      mirror(path, opened, args);
    } else if (entry.isSymbolicLink()) {
      args.push("--symlink", readlinkSync(path), path);
    } else {
      // -try: an entry that vanished since readdir (a socket, a lock file) is not worth failing for.
      args.push("--ro-bind-try", path, path);
    }
  }
}

/** The path with its existing host part resolved, so symlinks (/var/run → /run) are seen
 *  the way bwrap will follow them. */
function hostCanonical(path: string): string {
  const normal = posix.normalize(path);
  for (let prefix = normal; ; prefix = dirname(prefix)) {
    if (existsSync(prefix)) return posix.join(realpathSync(prefix), relative(prefix, normal));
    if (prefix === "/") return normal;
  }
}

function isBelowAny(path: string, folders: string[]): boolean {
  return folders.some((folder) => path !== folder && path.startsWith(folder === "/" ? "/" : `${folder}/`));
}

function existsInSandbox(path: string, binds: SandboxMount[]): boolean {
  const bind = [...binds].reverse().find((candidate) => path === candidate.target || path.startsWith(`${candidate.target}/`));
  if (bind) return existsSync(join(bind.source, relative(bind.target, path)));
  return existsSync(path);
}

function depth(path: string): number {
  return path.split("/").filter(Boolean).length;
}
