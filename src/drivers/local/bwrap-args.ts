// The bwrap command line for one sandbox (pure: spec + paths + host description → argv).
// Everything the sandbox can see of the host is decided here, so it is asserted whole in
// test/drivers/bwrap-args.test.ts. What the sandbox gets:
//   namespaces: user, pid, ipc, uts, net (only `lo`), cgroup; a new session (no TIOCSTI
//     into the caller's terminal); no capabilities; uid/gid 1000 inside.
//   read-only: host /usr, the merged-usr links, a curated /etc, the node binary and the
//     supervisor bundle under /opt/outpost.
//   read-write: its own workspace, home, state and run folders; a private /tmp.
//   everything else (/, /etc, /home, /opt …) is a read-only tmpfs skeleton.
// Deliberately absent: --die-with-parent (sandboxes must outlive the control plane), any
// --share-net, /root, /home of the host, the data dir, other sandboxes, /sys.
import { SANDBOX_GID, SANDBOX_HOME, SANDBOX_UID, SANDBOX_USER } from "./etc-files.ts";
import type { HostFs } from "./host-fs.ts";

/** Paths inside the sandbox. */
export const INSIDE = {
  workspace: "/workspace",
  home: SANDBOX_HOME,
  state: "/var/lib/outpost",
  run: "/run/outpost",
  socket: "/run/outpost/supervisor.sock",
  binDir: "/opt/outpost/bin",
  node: "/opt/outpost/bin/node",
  supervisor: "/opt/outpost/supervisor.js",
} as const;

export const SANDBOX_PATH_ENV = `${INSIDE.binDir}:/usr/local/bin:/usr/bin:/bin`;

export interface BwrapArgsInput {
  /** DNS label, becomes the hostname. */
  hostname: string;
  /** Host folders of this sandbox. */
  paths: { workspace: string; home: string; state: string; run: string; etc: string };
  /** Host path of the node binary (usually process.execPath). */
  nodeBinary: string;
  /** Host path of the bundled supervisor (dist/supervisor.js). */
  supervisorBundle: string;
  host: HostFs;
  /** fd on which bwrap writes {"child-pid": N}. */
  infoFd: number;
  /** Forbid user namespaces inside the sandbox (bwrap --disable-userns): a smaller kernel
   *  attack surface, but nested sandboxes (Chrome's, rootless containers) stop working. */
  disableNestedUserns?: boolean;
  /** fd bwrap waits on (after namespaces are set up, before running the supervisor), so
   *  the driver can put the processes into cgroups before anything inside can fork. */
  blockFd?: number;
}

export function bwrapArgs(input: BwrapArgsInput): string[] {
  const { paths, host } = input;
  const args: string[] = [];
  const add = (...items: string[]) => args.push(...items);

  // --unshare-user is implied by --unshare-all only "if possible"; make it mandatory so a
  // sandbox never runs with host uids, whoever starts bwrap.
  add("--unshare-all", "--unshare-user", "--new-session");
  if (input.disableNestedUserns) add("--disable-userns");
  add("--hostname", input.hostname);
  add("--uid", String(SANDBOX_UID), "--gid", String(SANDBOX_GID));
  add("--cap-drop", "ALL");

  add("--ro-bind", "/usr", "/usr");
  for (const entry of host.topLevel) {
    if (entry.kind === "symlink") add("--symlink", entry.target, `/${entry.name}`);
    else add("--ro-bind", `/${entry.name}`, `/${entry.name}`);
  }
  for (const name of host.etc) add("--ro-bind", `/etc/${name}`, `/etc/${name}`);
  for (const name of ["passwd", "group", "hosts"]) add("--ro-bind", `${paths.etc}/${name}`, `/etc/${name}`);

  add("--proc", "/proc");
  add("--dev", "/dev");
  // bwrap's tmpfs defaults to 0755; /tmp is expected to be world-writable and sticky.
  add("--perms", "1777", "--tmpfs", "/tmp");

  add("--bind", paths.workspace, INSIDE.workspace);
  add("--bind", paths.home, INSIDE.home);
  add("--bind", paths.state, INSIDE.state);
  add("--bind", paths.run, INSIDE.run);
  add("--ro-bind", input.nodeBinary, INSIDE.node);
  add("--ro-bind", input.supervisorBundle, INSIDE.supervisor);
  // The root is a tmpfs that bwrap builds the tree on; once built, nothing may add to it
  // (the mounts above keep their own flags: /tmp and the sandbox folders stay writable).
  add("--remount-ro", "/");

  add("--clearenv");
  add("--setenv", "HOME", INSIDE.home);
  add("--setenv", "USER", SANDBOX_USER);
  add("--setenv", "PATH", SANDBOX_PATH_ENV);
  add("--setenv", "LANG", "C.UTF-8");
  add("--chdir", INSIDE.workspace);

  add("--info-fd", String(input.infoFd));
  if (input.blockFd !== undefined) add("--block-fd", String(input.blockFd));

  add("--", INSIDE.node, INSIDE.supervisor, "--socket", INSIDE.socket, "--state", INSIDE.state, "--workspace", INSIDE.workspace);
  return args;
}
