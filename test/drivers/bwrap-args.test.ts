import assert from "node:assert/strict";
import { test } from "node:test";
import { bwrapArgs, tmpfsSizes } from "../../src/drivers/local/bwrap-args.ts";
import { zoneinfoLink } from "../../src/drivers/local/host-fs.ts";

const paths = {
  workspace: "/data/sandboxes/sbx_1/workspace",
  home: "/data/sandboxes/sbx_1/home",
  state: "/data/sandboxes/sbx_1/state",
  link: "/data/links/sbx_1",
  etc: "/data/sandboxes/sbx_1/etc",
};
const MiB = 1024 * 1024;

test("the bwrap argv for a merged-usr host isolates everything and binds only the sandbox's own folders", () => {
  const argv = bwrapArgs({
    hostname: "my-project",
    sandboxId: "sbx_1",
    paths,
    outpostDir: "/srv/outpost/runtime",
    host: {
      topLevel: [
        { name: "bin", kind: "symlink", target: "usr/bin" },
        { name: "sbin", kind: "symlink", target: "usr/sbin" },
        { name: "lib", kind: "symlink", target: "usr/lib" },
        { name: "lib64", kind: "symlink", target: "usr/lib64" },
      ],
      etc: ["alternatives", "ld.so.cache", "ssl", "ca-certificates"],
      localtimeLink: "/usr/share/zoneinfo/Europe/Paris",
      shell: "/bin/bash",
    },
    tmpSizeBytes: 512 * MiB,
    shmSizeBytes: 256 * MiB,
    infoFd: 3,
    blockFd: 4,
    statusFd: 7,
    seccompFd: 6,
  });
  // biome-ignore format: one bwrap option per line
  assert.deepEqual(argv, [
    "--unshare-all", "--unshare-user", "--new-session",
    "--disable-userns",
    "--hostname", "my-project",
    "--uid", "1000", "--gid", "1000",
    "--cap-drop", "ALL",
    "--ro-bind", "/usr", "/usr",
    "--symlink", "usr/bin", "/bin",
    "--symlink", "usr/sbin", "/sbin",
    "--symlink", "usr/lib", "/lib",
    "--symlink", "usr/lib64", "/lib64",
    "--ro-bind", "/etc/alternatives", "/etc/alternatives",
    "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache",
    "--ro-bind", "/etc/ssl", "/etc/ssl",
    "--ro-bind", "/etc/ca-certificates", "/etc/ca-certificates",
    "--symlink", "/usr/share/zoneinfo/Europe/Paris", "/etc/localtime",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/passwd", "/etc/passwd",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/group", "/etc/group",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/hosts", "/etc/hosts",
    "--proc", "/proc",
    "--dev", "/dev",
    "--perms", "1777", "--size", "268435456", "--tmpfs", "/dev/shm",
    "--remount-ro", "/dev",
    "--perms", "1777", "--size", "536870912", "--tmpfs", "/tmp",
    "--bind", "/data/sandboxes/sbx_1/workspace", "/workspace",
    "--bind", "/data/sandboxes/sbx_1/home", "/home/outpost",
    "--bind", "/data/sandboxes/sbx_1/state", "/var/lib/outpost",
    "--ro-bind", "/data/links/sbx_1", "/run/outpost",
    "--ro-bind", "/srv/outpost/runtime", "/opt/outpost",
    "--remount-ro", "/",
    "--clearenv",
    "--setenv", "HOME", "/home/outpost",
    "--setenv", "USER", "outpost",
    "--setenv", "PATH", "/opt/outpost/bin:/usr/local/bin:/usr/bin:/bin",
    "--setenv", "LANG", "C.UTF-8",
    "--chdir", "/workspace",
    "--info-fd", "3",
    "--block-fd", "4",
    "--json-status-fd", "7",
    "--seccomp", "6",
    "--",
    "/opt/outpost/bin/node", "/opt/outpost/supervisor.js",
    "--link", "/run/outpost/link.sock",
    "--token-file", "/run/outpost/token",
    "--sandbox-id", "sbx_1",
    "--state", "/var/lib/outpost",
    "--workspace", "/workspace",
  ]);
});

test("on a host without merged usr the top-level folders are bound read-only and missing /etc entries are left out", () => {
  const argv = bwrapArgs({
    hostname: "old-host",
    sandboxId: "sbx_2",
    paths,
    outpostDir: "/srv/outpost",
    host: {
      topLevel: [
        { name: "bin", kind: "dir" },
        { name: "lib", kind: "dir" },
      ],
      etc: ["ssl", "localtime"],
      shell: "/bin/sh",
    },
    ...tmpfsSizes(undefined),
    infoFd: 7,
  });
  const joined = argv.join(" ");
  assert.match(
    joined,
    /--ro-bind \/usr \/usr --ro-bind \/bin \/bin --ro-bind \/lib \/lib --ro-bind \/etc\/ssl \/etc\/ssl --ro-bind \/etc\/localtime \/etc\/localtime --ro-bind \/data/,
    "a plain /etc/localtime file is bound as before",
  );
  assert.ok(!joined.includes("--symlink"));
  assert.ok(!joined.includes("lib64"));
  for (const option of ["--block-fd", "--json-status-fd", "--seccomp"]) assert.ok(!joined.includes(option), `no ${option} unless asked`);
  assert.match(joined, /--info-fd 7 --/);
});

test("/tmp gets half the memory limit and /dev/shm a quarter, 4 GiB assumed without a limit, 16 MiB at least", () => {
  assert.deepEqual(tmpfsSizes(1024 * MiB), { tmpSizeBytes: 512 * MiB, shmSizeBytes: 256 * MiB });
  assert.deepEqual(tmpfsSizes(undefined), { tmpSizeBytes: 2048 * MiB, shmSizeBytes: 1024 * MiB });
  assert.deepEqual(tmpfsSizes(64 * MiB), { tmpSizeBytes: 32 * MiB, shmSizeBytes: 16 * MiB });
  assert.deepEqual(tmpfsSizes(40 * MiB), { tmpSizeBytes: 20 * MiB, shmSizeBytes: 16 * MiB });
  assert.deepEqual(tmpfsSizes(8 * MiB), { tmpSizeBytes: 16 * MiB, shmSizeBytes: 16 * MiB });
  // Odd sizes stay whole bytes (bwrap's --size takes an integer).
  assert.ok(Number.isInteger(tmpfsSizes(1001).shmSizeBytes));
});

test("an /etc/localtime link is kept as a link only when it names a zone under /usr/share/zoneinfo", () => {
  assert.equal(zoneinfoLink("/usr/share/zoneinfo/Etc/UTC"), "/usr/share/zoneinfo/Etc/UTC");
  assert.equal(zoneinfoLink("../usr/share/zoneinfo/America/New_York"), "/usr/share/zoneinfo/America/New_York");
  assert.equal(zoneinfoLink("/var/db/timezone/localtime"), undefined);
  assert.equal(zoneinfoLink("/usr/share/zoneinfo/../../../etc/shadow"), undefined);
  assert.equal(zoneinfoLink("/usr/share/zoneinfo"), undefined);
});

/** A spec with no host folders to bind, so the argv shows only what the driver adds itself. */
const bareArgs = (extra: Partial<Parameters<typeof bwrapArgs>[0]> = {}) =>
  bwrapArgs({
    hostname: "x",
    sandboxId: "sbx_x",
    paths,
    outpostDir: "/srv/outpost",
    host: { topLevel: [], etc: [], shell: "/bin/sh" },
    tmpSizeBytes: 32 * MiB,
    shmSizeBytes: 16 * MiB,
    infoFd: 3,
    ...extra,
  });

test("the bwrap argv keeps no tie to the parent, shares no network, adds no capability and binds no other host folder", () => {
  const argv = bareArgs();
  for (const option of ["--die-with-parent", "--share-net", "--cap-add", "--dev-bind", "--bind-try"]) {
    assert.ok(!argv.includes(option), `argv must not contain ${option}`);
  }
  for (const prefix of ["/root", "/sys", "/var/run", "/home/"]) {
    const leaks = argv.filter((arg) => arg.startsWith(prefix) && arg !== "/home/outpost");
    assert.deepEqual(leaks, [], `nothing under ${prefix}`);
  }
  // Every read-write bind is one of the sandbox's own three folders; the link folder is
  // the control plane's and read-only.
  const writable = argv.flatMap((arg, i) => (arg === "--bind" ? [argv[i + 1]] : []));
  assert.deepEqual(writable, [paths.workspace, paths.home, paths.state]);
  const readOnly = argv.flatMap((arg, i) => (arg === "--ro-bind" ? [argv[i + 1]] : []));
  assert.ok(readOnly.includes(paths.link));
  // Every tmpfs has a size cap.
  argv.forEach((arg, i) => {
    if (arg === "--tmpfs") assert.equal(argv[i - 2], "--size", `${argv[i + 1]} is capped`);
  });
});

test("nested user namespaces are forbidden unless allowed, right after the namespaces are requested", () => {
  assert.deepEqual(bareArgs().slice(0, 4), ["--unshare-all", "--unshare-user", "--new-session", "--disable-userns"]);
  const allowed = bareArgs({ allowNestedUserns: true });
  assert.deepEqual(allowed.slice(0, 4), ["--unshare-all", "--unshare-user", "--new-session", "--hostname"]);
  assert.ok(!allowed.includes("--disable-userns"));
});

test("an image sandbox: the namespace comes made, root inside with a few capabilities, its overlay as /, nothing else of the host", () => {
  const argv = bareArgs({ image: { root: "/data/sandboxes/sbx_1/rootfs/merged", usernsFd: 8 } });
  const options = argv.slice(0, argv.indexOf("--"));
  // Its own user namespace (rootfs/user-namespace.ts), never one bwrap makes, and root in it.
  assert.deepEqual(options.slice(0, 8), [
    "--unshare-ipc",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-uts",
    "--unshare-cgroup",
    "--userns",
    "8",
    "--new-session",
  ]);
  assert.ok(!options.includes("--unshare-user") && !options.includes("--share-net"));
  assert.deepEqual(options.slice(options.indexOf("--uid"), options.indexOf("--uid") + 4), ["--uid", "0", "--gid", "0"]);
  const added = options.flatMap((arg, i) => (arg === "--cap-add" ? [options[i + 1]] : []));
  assert.ok(options.indexOf("--cap-drop") < options.indexOf("--cap-add"), "everything dropped first");
  for (const never of ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE", "CAP_DAC_READ_SEARCH", "ALL"])
    assert.ok(!added.includes(never), never);
  // The overlay is the writable root; the host's /usr and /etc are not there.
  assert.deepEqual(options.slice(options.indexOf("--bind"), options.indexOf("--bind") + 3), ["--bind", "/data/sandboxes/sbx_1/rootfs/merged", "/"]);
  assert.ok(!options.includes("/usr"), "no host /usr");
  assert.ok(
    options.some((arg, i) => arg === "--remount-ro" && options[i + 1] === "/dev"),
    "the device tmpfs stays read-only",
  );
  assert.ok(!options.some((arg, i) => arg === "--remount-ro" && options[i + 1] === "/"), "the root is the sandbox's writable layer");
  const writable = options.flatMap((arg, i) => (arg === "--bind" ? [options[i + 1]] : []));
  assert.deepEqual(writable, ["/data/sandboxes/sbx_1/rootfs/merged", paths.workspace, paths.home, paths.state]);
  // The image's tools come before Outpost's; the supervisor drops commands to the user.
  assert.equal(options[options.indexOf("PATH") + 1], "/usr/local/bin:/usr/bin:/bin:/opt/outpost/bin");
  assert.deepEqual(argv.slice(-2), ["--run-as", "1000:1000"]);
});
