// A sandbox's writable layer, made into a layer any sandbox can use: its files carry the
// host ids of the sandbox that made them (its root and user host uids); a shared layer
// carries an image's ids (root 0, the sandbox user 1000), which each sandbox's idmapped
// mount shifts to its own (drivers/local/rootfs/). Walks without following symlinks
// (lchown); overlayfs's whiteouts (0/0 character devices) and opaque markers (xattrs) are
// kept as they are. chown clears setuid/setgid bits, so those are put back.
import { chmodSync, lchownSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** host id → image id (the same id when it is not the sandbox's). */
export type IdShift = (hostId: number) => number;

export function shiftIds(root: string, shift: IdShift): number {
  let count = 0;
  const visit = (path: string) => {
    const info = lstatSync(path);
    const uid = shift(info.uid);
    const gid = shift(info.gid);
    if (uid !== info.uid || gid !== info.gid) {
      lchownSync(path, uid, gid);
      if (info.isFile() && info.mode & 0o6000) chmodSync(path, info.mode & 0o7777);
      count++;
    }
    if (info.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
  };
  visit(root);
  return count;
}
