// The kernel's mount calls the image sandboxes need and Node does not offer: idmapped mounts
// (open_tree + mount_setattr + move_mount, Linux ≥ 5.12) and plain mount/umount2 for the
// overlay. Called through koffi (a maintained FFI addon with prebuilt binaries), so no
// compiler or helper program is needed on the host. Only the control plane calls these,
// only as root, only on paths inside its own data dir.
import { createRequire } from "node:module";

// x86_64 and aarch64 share the numbers of the new mount API (asm-generic and x86 agree here).
const SYS_OPEN_TREE = 428;
const SYS_MOVE_MOUNT = 429;
const SYS_MOUNT_SETATTR = 442;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOUNT_ATTR_IDMAP = 0x100000;
const MNT_DETACH = 2;
const MS_NOSUID = 0x2;
const MS_NODEV = 0x4;

interface Koffi {
  load(path: string): { func(signature: string): (...args: unknown[]) => number };
  errno(): number;
  struct(name: string, fields: Record<string, string>): unknown;
  pointer(type: unknown): unknown;
}

interface Calls {
  koffi: Koffi;
  syscall: (...args: unknown[]) => number;
  mount: (source: string, target: string, type: string, flags: number, data: string | null) => number;
  umount2: (target: string, flags: number) => number;
  close: (fd: number) => number;
  attrType: unknown;
}

let calls: Calls | undefined;

function load(): Calls {
  if (calls) return calls;
  // Loaded lazily: a control plane that never starts an image sandbox never loads the addon.
  const koffi = createRequire(import.meta.url)("koffi") as Koffi;
  const libc = koffi.load("libc.so.6");
  const attrType = koffi.struct("outpost_mount_attr", { attr_set: "uint64", attr_clr: "uint64", propagation: "uint64", userns_fd: "uint64" });
  calls = {
    koffi,
    syscall: libc.func("long syscall(long number, ...)"),
    mount: libc.func("int mount(const char *source, const char *target, const char *type, unsigned long flags, const char *data)") as Calls["mount"],
    umount2: libc.func("int umount2(const char *target, int flags)") as Calls["umount2"],
    close: libc.func("int close(int fd)") as Calls["close"],
    attrType,
  };
  return calls;
}

export class MountError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    target: string,
  ) {
    super(`${call} ${target} failed: errno ${errno}${ERRNO_NAMES[errno] ? ` (${ERRNO_NAMES[errno]})` : ""}`);
  }
}

const ERRNO_NAMES: Record<number, string> = { 1: "EPERM", 2: "ENOENT", 13: "EACCES", 16: "EBUSY", 22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP" };

function check(result: number, call: string, target: string): number {
  if (result < 0) throw new MountError(call, load().koffi.errno(), target);
  return result;
}

/** Mounts `source` again at `target` (an existing empty folder), with its ids shifted by the
 *  user namespace `usernsFd`: a file owned by id N on disk shows as the host id that N maps
 *  to in that namespace. Not recursive: an image layer is one plain folder. */
export function mountIdmapped(source: string, target: string, usernsFd: number): void {
  const { syscall, close, attrType } = load();
  const tree = check(syscall(SYS_OPEN_TREE, "int", AT_FDCWD, "str", source, "uint", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC), "open_tree", source);
  try {
    const attr = { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: usernsFd };
    check(
      syscall(SYS_MOUNT_SETATTR, "int", tree, "str", "", "uint", AT_EMPTY_PATH, load().koffi.pointer(attrType), attr, "size_t", 32),
      "mount_setattr",
      source,
    );
    check(syscall(SYS_MOVE_MOUNT, "int", tree, "str", "", "int", AT_FDCWD, "str", target, "uint", MOVE_MOUNT_F_EMPTY_PATH), "move_mount", target);
  } finally {
    close(tree);
  }
}

/** An overlay at `target`: `lower` top first, all read-only; writes go to `upper`. */
export function mountOverlay(target: string, layers: { lower: string[]; upper: string; work: string }): void {
  const quoted = (path: string) => path.replace(/\\/g, "\\\\").replace(/:/g, "\\:").replace(/,/g, "\\,");
  const data = [`lowerdir=${layers.lower.map(quoted).join(":")}`, `upperdir=${quoted(layers.upper)}`, `workdir=${quoted(layers.work)}`].join(",");
  check(load().mount("overlay", target, "overlay", MS_NOSUID | MS_NODEV, data), "mount overlay", target);
}

/** Detaches a mount from the host's tree; namespaces that copied it (a running sandbox) keep theirs. */
export function unmountDetached(target: string): void {
  const result = load().umount2(target, MNT_DETACH);
  if (result < 0) {
    const errno = load().koffi.errno();
    if (errno !== 22 && errno !== 2) throw new MountError("umount2", errno, target); // EINVAL: not a mount point
  }
}
