import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type CgroupSupport, detectCgroups, limitWrites, parseMountinfo, SandboxCgroup } from "../../src/drivers/local/cgroups.ts";

const HYBRID = [
  "30 23 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755",
  "31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate",
  "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,cpu,cpuacct",
  "34 30 0:30 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,memory",
  "35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:16 - cgroup cgroup rw,pids",
  "36 30 0:32 / /sys/fs/cgroup/freezer rw,nosuid,nodev,noexec,relatime shared:17 - cgroup cgroup rw,freezer",
  "37 30 0:33 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:11 - cgroup cgroup rw,xattr,name=systemd",
].join("\n");

test("mountinfo of a hybrid host yields the v2 mount and each v1 controller's mount", () => {
  assert.deepEqual(parseMountinfo(HYBRID), {
    unified: "/sys/fs/cgroup/unified",
    v1: { cpu: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory", pids: "/sys/fs/cgroup/pids", freezer: "/sys/fs/cgroup/freezer" },
  });
  assert.deepEqual(parseMountinfo("25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"), {
    unified: "/sys/fs/cgroup",
    v1: {},
  });
});

test("cgroup v1 limits: a cfs quota per 100 ms period, memory without extra swap, and pids.max", () => {
  const hierarchies = [
    { name: "cpu" as const, controllers: ["cpu"] },
    { name: "memory" as const, controllers: ["memory"] },
    { name: "pids" as const, controllers: ["pids"] },
    { name: "freezer" as const, controllers: [] },
  ];
  assert.deepEqual(limitWrites(hierarchies, { cpus: 1.5, memoryBytes: 512 * 1024 * 1024, pids: 256 }), [
    { hierarchy: "cpu", file: "cpu.cfs_period_us", value: "100000" },
    { hierarchy: "cpu", file: "cpu.cfs_quota_us", value: "150000" },
    { hierarchy: "memory", file: "memory.memsw.limit_in_bytes", value: "-1", optional: true },
    { hierarchy: "memory", file: "memory.limit_in_bytes", value: "536870912" },
    { hierarchy: "memory", file: "memory.memsw.limit_in_bytes", value: "536870912", optional: true },
    { hierarchy: "pids", file: "pids.max", value: "256" },
  ]);
  // No limits: everything is reset to unlimited, so dropping a limit takes effect.
  assert.deepEqual(limitWrites(hierarchies, {}), [
    { hierarchy: "cpu", file: "cpu.cfs_period_us", value: "100000" },
    { hierarchy: "cpu", file: "cpu.cfs_quota_us", value: "-1" },
    { hierarchy: "memory", file: "memory.memsw.limit_in_bytes", value: "-1", optional: true },
    { hierarchy: "memory", file: "memory.limit_in_bytes", value: "-1" },
    { hierarchy: "pids", file: "pids.max", value: "max" },
  ]);
});

test("cgroup v2 limits: cpu.max, memory.max with no swap, pids.max, only for enabled controllers", () => {
  assert.deepEqual(limitWrites([{ name: "unified", controllers: ["cpu", "memory", "pids"] }], { cpus: 0.25, memoryBytes: 1 << 30, pids: 100 }), [
    { hierarchy: "unified", file: "cpu.max", value: "25000 100000" },
    { hierarchy: "unified", file: "memory.max", value: "1073741824" },
    { hierarchy: "unified", file: "memory.swap.max", value: "0", optional: true },
    { hierarchy: "unified", file: "pids.max", value: "100" },
  ]);
  assert.deepEqual(limitWrites([{ name: "unified", controllers: ["pids"] }], { cpus: 2 }), [{ hierarchy: "unified", file: "pids.max", value: "max" }]);
});

test("without root, cgroups are not touched and the reason says so", () => {
  const support = detectCgroups({ isRoot: false, mountinfo: HYBRID });
  assert.equal(support.usable, false);
  assert.equal(support.mode, "none");
  assert.match(support.reason ?? "", /not running as root/);
});

test("a v2 hierarchy gets the sandbox's folder and its limit files, idempotently", (t) => {
  // A plain folder stands in for a cgroup2 mount: it checks paths and values, not the kernel.
  const fake = mkdtempSync(join(tmpdir(), "outpost-cgroup-"));
  t.after(() => rmSync(fake, { recursive: true, force: true }));
  const support: CgroupSupport = {
    usable: true,
    mode: "v2",
    hierarchies: [{ name: "unified", parentDir: fake, controllers: ["cpu", "memory", "pids"] }],
    limitable: ["cpus", "memoryBytes", "pids"],
  };
  const cgroup = new SandboxCgroup(support, "sbx_fake");
  cgroup.create();
  cgroup.create();
  assert.deepEqual(cgroup.applyLimits({ cpus: 1, memoryBytes: 256 * 1024 * 1024, pids: 64 }), []);
  const read = (file: string) => readFileSync(join(fake, "sbx_fake", file), "utf8");
  assert.equal(read("cpu.max"), "100000 100000");
  assert.equal(read("memory.max"), "268435456");
  assert.equal(read("pids.max"), "64");
  assert.ok(!existsSync(join(fake, "sbx_fake", "memory.swap.max")), "optional files are not created");
});
