import assert from "node:assert/strict";
import { test } from "node:test";
import { bwrapArgs } from "../../src/drivers/local/bwrap-args.ts";

const paths = {
  workspace: "/data/sandboxes/sbx_1/workspace",
  home: "/data/sandboxes/sbx_1/home",
  state: "/data/sandboxes/sbx_1/state",
  run: "/data/sandboxes/sbx_1/run",
  etc: "/data/sandboxes/sbx_1/etc",
};

test("the bwrap argv for a merged-usr host isolates everything and binds only the sandbox's own folders", () => {
  const argv = bwrapArgs({
    hostname: "my-project",
    paths,
    nodeBinary: "/usr/local/bin/node",
    supervisorBundle: "/srv/outpost/dist/supervisor.js",
    host: {
      topLevel: [
        { name: "bin", kind: "symlink", target: "usr/bin" },
        { name: "sbin", kind: "symlink", target: "usr/sbin" },
        { name: "lib", kind: "symlink", target: "usr/lib" },
        { name: "lib64", kind: "symlink", target: "usr/lib64" },
      ],
      etc: ["alternatives", "ld.so.cache", "ssl", "ca-certificates", "localtime"],
      shell: "/bin/bash",
    },
    infoFd: 3,
    blockFd: 4,
  });
  // biome-ignore format: one bwrap option per line
  assert.deepEqual(argv, [
    "--unshare-all", "--unshare-user", "--new-session",
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
    "--ro-bind", "/etc/localtime", "/etc/localtime",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/passwd", "/etc/passwd",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/group", "/etc/group",
    "--ro-bind", "/data/sandboxes/sbx_1/etc/hosts", "/etc/hosts",
    "--proc", "/proc",
    "--dev", "/dev",
    "--perms", "1777", "--tmpfs", "/tmp",
    "--bind", "/data/sandboxes/sbx_1/workspace", "/workspace",
    "--bind", "/data/sandboxes/sbx_1/home", "/home/outpost",
    "--bind", "/data/sandboxes/sbx_1/state", "/var/lib/outpost",
    "--bind", "/data/sandboxes/sbx_1/run", "/run/outpost",
    "--ro-bind", "/usr/local/bin/node", "/opt/outpost/bin/node",
    "--ro-bind", "/srv/outpost/dist/supervisor.js", "/opt/outpost/supervisor.js",
    "--remount-ro", "/",
    "--clearenv",
    "--setenv", "HOME", "/home/outpost",
    "--setenv", "USER", "outpost",
    "--setenv", "PATH", "/opt/outpost/bin:/usr/local/bin:/usr/bin:/bin",
    "--setenv", "LANG", "C.UTF-8",
    "--chdir", "/workspace",
    "--info-fd", "3",
    "--block-fd", "4",
    "--",
    "/opt/outpost/bin/node", "/opt/outpost/supervisor.js",
    "--socket", "/run/outpost/supervisor.sock",
    "--state", "/var/lib/outpost",
    "--workspace", "/workspace",
  ]);
});

test("on a host without merged usr the top-level folders are bound read-only and missing /etc entries are left out", () => {
  const argv = bwrapArgs({
    hostname: "old-host",
    paths,
    nodeBinary: "/usr/bin/node",
    supervisorBundle: "/srv/supervisor.js",
    host: {
      topLevel: [
        { name: "bin", kind: "dir" },
        { name: "lib", kind: "dir" },
      ],
      etc: ["ssl"],
      shell: "/bin/sh",
    },
    infoFd: 7,
  });
  const joined = argv.join(" ");
  assert.match(joined, /--ro-bind \/usr \/usr --ro-bind \/bin \/bin --ro-bind \/lib \/lib --ro-bind \/etc\/ssl \/etc\/ssl --ro-bind \/data/);
  assert.ok(!joined.includes("--symlink"));
  assert.ok(!joined.includes("lib64"));
  assert.ok(!joined.includes("--block-fd"), "no block fd unless asked");
  assert.match(joined, /--info-fd 7 --/);
});

/** A spec with no host folders to bind, so the argv shows only what the driver adds itself. */
const bareArgs = (extra: Partial<Parameters<typeof bwrapArgs>[0]> = {}) =>
  bwrapArgs({
    hostname: "x",
    paths,
    nodeBinary: "/usr/bin/node",
    supervisorBundle: "/srv/supervisor.js",
    host: { topLevel: [], etc: [], shell: "/bin/sh" },
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
  // Every read-write bind is one of the sandbox's own four folders.
  const writable = argv.flatMap((arg, i) => (arg === "--bind" ? [argv[i + 1]] : []));
  assert.deepEqual(writable, [paths.workspace, paths.home, paths.state, paths.run]);
});

test("nested user namespaces can be forbidden, right after the namespaces are requested", () => {
  const argv = bareArgs({ disableNestedUserns: true });
  assert.deepEqual(argv.slice(0, 4), ["--unshare-all", "--unshare-user", "--new-session", "--disable-userns"]);
});
