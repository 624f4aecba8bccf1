// The bwrap command line for one sandbox (pure: spec + paths + host description → argv).
// Everything the sandbox can see of the host is decided here, so it is asserted whole in
// test/drivers/bwrap-args.test.ts. What the sandbox gets:
//   namespaces: user, pid, ipc, uts, net (only `lo`), cgroup; a new session (no TIOCSTI
//     into the caller's terminal); no capabilities; uid/gid 1000 inside; no nested user
//     namespaces (--disable-userns, and the seccomp filter refuses CLONE_NEWUSER) unless
//     allowNestedUserns; the seccomp filter of seccomp.ts when given its fd.
//   the way out, when egress is on: the proxy environment (HTTP_PROXY … to 127.0.0.1:3128,
//     the model gateway on 3129, the CA bundle) and the supervisor's --bridge to the
//     control plane's egress.sock and gateway.sock in /run/outpost.
//   read-only: host /usr, the merged-usr links, a curated /etc (/etc/localtime recreated
//     as the host's link into /usr/share/zoneinfo when it is one), the Outpost folder
//     (node, supervisor, its node_modules) at /opt/outpost, and the control plane's link
//     folder at /run/outpost: the supervisor dials out to link.sock there and reads its
//     token; it listens on nothing the host can reach, and cannot replace either file.
//   read-write: its own workspace, home and state folders; /tmp and /dev/shm, tmpfs
//     with a size cap each (tmpfsSizes: together within the memory limit).
//   everything else (/, /etc, /home, /opt …) is a read-only tmpfs skeleton; /dev is
//     bwrap's device tmpfs, made read-only too (otherwise an uncapped writable tmpfs).
// Deliberately absent: --die-with-parent (sandboxes must outlive the control plane), any
// --share-net, /root, /home of the host, the data dir, other sandboxes, /sys.
import { DATABASE_PORT } from "../../domain/databases.ts";
import { GATEWAY_PORT, NETWORK_PATHS, PROXY_PORT, sandboxNetworkEnv } from "../../domain/sandbox-network.ts";
import { SANDBOX_GID, SANDBOX_HOME, SANDBOX_UID, SANDBOX_USER } from "./etc-files.ts";
import type { HostFs } from "./host-fs.ts";

/** Paths inside the sandbox. */
export const INSIDE = {
  workspace: "/workspace",
  home: SANDBOX_HOME,
  state: "/var/lib/outpost",
  run: "/run/outpost",
  link: "/run/outpost/link.sock",
  token: "/run/outpost/token",
  outpost: "/opt/outpost",
  agents: "/opt/agents",
  binDir: "/opt/outpost/bin",
  node: "/opt/outpost/bin/node",
  supervisor: "/opt/outpost/supervisor.js",
} as const;

export const SANDBOX_PATH_ENV = `${INSIDE.binDir}:/usr/local/bin:/usr/bin:/bin`;
/** In an image sandbox the image's own tools come first (its Node, if it has one); Outpost's
 *  are there for what the image lacks. */
export const IMAGE_PATH_ENV = `/usr/local/bin:/usr/bin:/bin:${INSIDE.binDir}`;

const MiB = 1024 * 1024;
/** Memory assumed for a sandbox without a memory limit, only to size its tmpfs. */
export const DEFAULT_TMPFS_MEMORY_BYTES = 4096 * MiB;
export const MIN_TMPFS_BYTES = 16 * MiB;

/** Size caps of /tmp (half the memory limit) and /dev/shm (a quarter). tmpfs pages are
 *  memory: together they stay within the limit, so filling them cannot take more than the
 *  sandbox may have, and a full /tmp still leaves room for processes. */
export function tmpfsSizes(memoryBytes: number | undefined): { tmpSizeBytes: number; shmSizeBytes: number } {
  const memory = memoryBytes ?? DEFAULT_TMPFS_MEMORY_BYTES;
  return {
    tmpSizeBytes: Math.max(MIN_TMPFS_BYTES, Math.floor(memory / 2)),
    shmSizeBytes: Math.max(MIN_TMPFS_BYTES, Math.floor(memory / 4)),
  };
}

export interface BwrapArgsInput {
  /** DNS label, becomes the hostname. */
  hostname: string;
  /** Passed to the supervisor, which names itself with it when it dials the control plane. */
  sandboxId: string;
  /** Host folders of this sandbox; `link` is the control plane's (link.sock, token). */
  paths: { workspace: string; home: string; state: string; link: string; etc: string };
  /** Host folder bound read-only at /opt/outpost: bin/node, supervisor.js, node_modules/. */
  outpostDir: string;
  host: HostFs;
  /** tmpfs size caps in bytes (tmpfsSizes). */
  tmpSizeBytes: number;
  shmSizeBytes: number;
  /** fd on which bwrap writes {"child-pid": N}. */
  infoFd: number;
  /** fd bwrap waits on (after namespaces are set up, before running the supervisor), so
   *  the driver can put the processes into cgroups before anything inside can fork. */
  blockFd?: number;
  /** fd bwrap writes its status to: {"child-pid": N} at start, {"exit-code": N} at the end. */
  statusFd?: number;
  /** fd bwrap reads the seccomp program from (seccomp.ts), to its end. */
  seccompFd?: number;
  /** Let the sandbox create user namespaces (nested sandboxes: Chrome's, rootless
   *  containers). Off by default: a user namespace hands its creator capabilities over
   *  new kernel objects, the way in for many kernel exploits. The seccomp filter must be
   *  built with the same choice. */
  allowNestedUserns?: boolean;
  /** The way out (domain/sandbox-network.ts): the supervisor bridges 127.0.0.1:3128/3129 to
   *  the control plane's proxy and gateway sockets, and every process gets the proxy
   *  environment. Off: the sandbox has loopback only and is told of no proxy. */
  egress?: boolean;
  /** Host folder of installed agent CLIs (services/agent-installer.ts), bound read-only at
   *  /opt/agents: the sandbox runs them, but cannot change the binary the next run starts. */
  agentsDir?: string;
  /** An image sandbox (rootfs/rootfs.ts): `root` is its mounted overlay, bound as `/`
   *  writable; the user namespace comes made (rootfs/user-namespace.ts) on `usernsFd`, with
   *  root inside mapped to the sandbox's root host uid. The supervisor runs as root inside
   *  with the capabilities of IMAGE_CAPABILITIES (in that namespace only) and starts
   *  commands as the sandbox user unless asked for root. The image's own /etc stays (its
   *  packages may add users), except hosts. */
  image?: { root: string; usernsFd: number };
}

/** What root inside an image sandbox may do: enough for package managers (own files, switch
 *  to their users, bind low ports), nothing that reaches the kernel's own objects
 *  (CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_PTRACE…). Capabilities in the sandbox's user
 *  namespace are worth nothing over the host's files and processes. */
export const IMAGE_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_SETFCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_AUDIT_WRITE",
] as const;

export function bwrapArgs(input: BwrapArgsInput): string[] {
  const { paths, host } = input;
  const args: string[] = [];
  const add = (...items: string[]) => args.push(...items);

  const image = input.image;
  if (image) {
    // The namespace comes made, with two ids mapped; bwrap can't also forbid nested ones
    // here (--disable-userns wants --unshare-user): the seccomp filter does that.
    add("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup", "--userns", String(image.usernsFd), "--new-session");
    add("--hostname", input.hostname);
    add("--uid", "0", "--gid", "0");
    add("--cap-drop", "ALL");
    for (const capability of IMAGE_CAPABILITIES) add("--cap-add", capability);
    add("--bind", image.root, "/");
    add("--ro-bind", `${paths.etc}/hosts`, "/etc/hosts");
  } else {
    // --unshare-user is implied by --unshare-all only "if possible"; make it mandatory so a
    // sandbox never runs with host uids, whoever starts bwrap (--disable-userns needs it too).
    add("--unshare-all", "--unshare-user", "--new-session");
    if (!input.allowNestedUserns) add("--disable-userns");
    add("--hostname", input.hostname);
    add("--uid", String(SANDBOX_UID), "--gid", String(SANDBOX_GID));
    add("--cap-drop", "ALL");

    add("--ro-bind", "/usr", "/usr");
    for (const entry of host.topLevel) {
      if (entry.kind === "symlink") add("--symlink", entry.target, `/${entry.name}`);
      else add("--ro-bind", `/${entry.name}`, `/${entry.name}`);
    }
    for (const name of host.etc) add("--ro-bind", `/etc/${name}`, `/etc/${name}`);
    if (host.localtimeLink) add("--symlink", host.localtimeLink, "/etc/localtime");
    for (const name of ["passwd", "group", "hosts"]) add("--ro-bind", `${paths.etc}/${name}`, `/etc/${name}`);
  }

  add("--proc", "/proc");
  add("--dev", "/dev");
  // bwrap's tmpfs defaults to 0755; /tmp and /dev/shm are expected world-writable and sticky.
  add("--perms", "1777", "--size", String(input.shmSizeBytes), "--tmpfs", "/dev/shm");
  // The device tmpfs is the sandbox user's and has no size cap; nothing needs to create
  // files in it (the device nodes, /dev/pts and /dev/shm are mounts of their own).
  add("--remount-ro", "/dev");
  add("--perms", "1777", "--size", String(input.tmpSizeBytes), "--tmpfs", "/tmp");

  add("--bind", paths.workspace, INSIDE.workspace);
  add("--bind", paths.home, INSIDE.home);
  add("--bind", paths.state, INSIDE.state);
  add("--ro-bind", paths.link, INSIDE.run);
  add("--ro-bind", input.outpostDir, INSIDE.outpost);
  if (input.agentsDir) add("--ro-bind", input.agentsDir, INSIDE.agents);
  // The root is a tmpfs that bwrap builds the tree on; once built, nothing may add to it
  // (the mounts above keep their own flags: /tmp and the sandbox folders stay writable).
  // An image's root is its writable overlay.
  if (!image) add("--remount-ro", "/");

  add("--clearenv");
  add("--setenv", "HOME", INSIDE.home);
  add("--setenv", "USER", SANDBOX_USER);
  add("--setenv", "PATH", image ? IMAGE_PATH_ENV : SANDBOX_PATH_ENV);
  add("--setenv", "LANG", "C.UTF-8");
  if (input.egress) for (const [name, value] of Object.entries(sandboxNetworkEnv())) add("--setenv", name, value);
  add("--chdir", INSIDE.workspace);

  add("--info-fd", String(input.infoFd));
  if (input.blockFd !== undefined) add("--block-fd", String(input.blockFd));
  if (input.statusFd !== undefined) add("--json-status-fd", String(input.statusFd));
  if (input.seccompFd !== undefined) add("--seccomp", String(input.seccompFd));

  // biome-ignore format: one option and its value per line
  add(
    "--", INSIDE.node, INSIDE.supervisor,
    "--link", INSIDE.link,
    "--token-file", INSIDE.token,
    "--sandbox-id", input.sandboxId,
    "--state", INSIDE.state,
    "--workspace", INSIDE.workspace,
  );
  if (image) add("--run-as", `${SANDBOX_UID}:${SANDBOX_GID}`);
  if (input.egress) {
    add(
      "--bridge",
      `${PROXY_PORT}=${NETWORK_PATHS.proxySocket},${GATEWAY_PORT}=${NETWORK_PATHS.gatewaySocket},${DATABASE_PORT}=${NETWORK_PATHS.databaseSocket}`,
    );
  }
  return args;
}
