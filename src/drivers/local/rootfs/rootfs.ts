// The root filesystem of an image sandbox: an overlay of read-only image layers (shared by
// every sandbox of an environment) under the sandbox's own writable layer, which persists
// across stop and start (that is where `apt-get install` lands).
//   <sandbox dir>/rootfs/
//     upper/     0755, the sandbox's root host uid: its writable layer (host ids of the sandbox)
//     work/      0700 root: overlayfs's scratch folder, same filesystem as upper/
//     lower/<n>/ mount points of the idmapped layers, only while a start mounts them
//     merged/    mount point of the overlay, only while a start mounts it
// Layers are stored with the ids an image has (root is 0, the sandbox user 1000). Each is
// mounted idmapped through the sandbox's user namespace, so the sandbox sees its image
// owned by its own root, and another sandbox sees the same files owned by its root. The
// overlay is mounted on the host only while bwrap starts: bwrap's mount namespace keeps its
// copy, and the host's is detached once the sandbox runs, so a control plane killed at any
// point leaves at most mount points that the next start or remove takes down.
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { DriverError } from "../../errors.ts";
import { mountIdmapped, mountOverlay, unmountDetached } from "./mount-api.ts";

export interface RootfsPaths {
  dir: string;
  upper: string;
  work: string;
  lower: string;
  merged: string;
}

export function rootfsPaths(sandboxDir: string): RootfsPaths {
  const dir = join(sandboxDir, "rootfs");
  return { dir, upper: join(dir, "upper"), work: join(dir, "work"), lower: join(dir, "lower"), merged: join(dir, "merged") };
}

function folder(path: string, mode: number, owner?: number): void {
  try {
    if (!lstatSync(path).isDirectory()) throw new DriverError("SANDBOX_START_FAILED", `${path} exists and is not a folder`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    mkdirSync(path, { mode });
  }
  chmodSync(path, mode);
  if (owner !== undefined) chownSync(path, owner, owner);
}

/** Mounts the sandbox's root filesystem at `paths.merged`; `layers` bottom first. */
export function mountRootfs(paths: RootfsPaths, layers: string[], usernsFd: number, rootUid: number): string {
  if (layers.length === 0) throw new DriverError("INVALID_SANDBOX_SPEC", "an image needs at least one layer");
  unmountRootfs(paths); // what a killed start left
  folder(paths.dir, 0o711);
  folder(paths.upper, 0o755, rootUid);
  folder(paths.work, 0o700, 0);
  folder(paths.lower, 0o700);
  folder(paths.merged, 0o755);
  const lowers: string[] = [];
  try {
    for (const [index, layer] of layers.entries()) {
      if (!existsSync(layer)) throw new DriverError("SANDBOX_START_FAILED", `the image layer ${layer} is missing; build the environment again`);
      const target = join(paths.lower, String(index));
      folder(target, 0o755);
      mountIdmapped(layer, target, usernsFd);
      lowers.unshift(target);
    }
    mountOverlay(paths.merged, { lower: lowers, upper: paths.upper, work: paths.work });
  } catch (error) {
    unmountRootfs(paths);
    if (error instanceof DriverError) throw error;
    throw new DriverError("SANDBOX_START_FAILED", `could not mount the sandbox's image: ${(error as Error).message}`);
  }
  return paths.merged;
}

/** Detaches the host's mounts of the root filesystem (a running sandbox keeps its own). */
export function unmountRootfs(paths: RootfsPaths): void {
  if (!existsSync(paths.dir)) return;
  unmountDetached(paths.merged);
  if (!existsSync(paths.lower)) return;
  for (const name of readdirSync(paths.lower)) {
    const target = join(paths.lower, name);
    unmountDetached(target);
    rmdirSync(target);
  }
}
