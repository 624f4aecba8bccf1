import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CURATED_ETC } from "../../src/drivers/local/host-fs.ts";
import { ensureOptions, execIn, shIn, specFor, testBed } from "./helpers.ts";

test("a sandbox sees only system folders and its own, not /root, the data dir or another sandbox", async (t) => {
  const { driver, root, dataDir } = testBed(t);
  const a = specFor("fs-a");
  const b = specFor("fs-b");
  const [handleA] = await Promise.all([driver.ensure(a, ensureOptions()), driver.ensure(b, ensureOptions())]);
  writeFileSync(join(root, b.sandboxId, "workspace", "secret.txt"), "b's secret\n");
  const inA = (script: string) => shIn(handleA, script);

  const top = await inA("ls -A /");
  assert.deepEqual(
    top.stdout.trim().split("\n").sort(),
    ["bin", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "run", "sbin", "tmp", "usr", "var", "workspace"].sort(),
  );
  assert.equal((await inA("ls -A /home")).stdout, "outpost\n");
  assert.equal((await inA("ls -A /run")).stdout, "outpost\n");
  assert.equal((await inA("ls -A /var/lib")).stdout, "outpost\n");

  for (const path of ["/root", "/root/.bashrc", dataDir, root, join(root, b.sandboxId, "workspace", "secret.txt"), join(root, a.sandboxId), "/sys/fs/cgroup"]) {
    const probe = await inA(`test -e '${path}' && echo visible || echo absent`);
    assert.equal(probe.stdout, "absent\n", `${path} must not exist inside the sandbox`);
  }
  const grep = await inA('grep -rl "b\'s secret" / --exclude-dir=proc --exclude-dir=usr --exclude-dir=dev 2>/dev/null; true');
  assert.equal(grep.stdout, "", "b's file is nowhere in a");
});

test("a sandbox gets a curated /etc with its own passwd, group and hosts", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("etc-check");
  const handle = await driver.ensure(spec, ensureOptions());

  const listing = (await shIn(handle, "ls -A /etc")).stdout.trim().split("\n").sort();
  const allowed = new Set<string>([...CURATED_ETC, "passwd", "group", "hosts"]);
  assert.deepEqual(
    listing.filter((name) => !allowed.has(name)),
    [],
    "nothing else of the host's /etc",
  );
  assert.ok(listing.includes("passwd") && listing.includes("ssl"));

  const who = await shIn(handle, "whoami; hostname; echo $HOME; getent hosts etc-check; cat /etc/passwd");
  const [user, host, home, hosts, ...passwd] = who.stdout.trim().split("\n");
  assert.equal(user, "outpost");
  assert.equal(host, "etc-check");
  assert.equal(home, "/home/outpost");
  assert.match(hosts ?? "", /^127\.0\.0\.1\s+etc-check/);
  assert.deepEqual(
    passwd.map((line) => line.split(":")[0]),
    ["root", "outpost", "nobody"],
  );
});

test("the system folders are read-only and /tmp is private and writable", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("readonly");
  const handle = await driver.ensure(spec, ensureOptions());
  for (const path of ["/usr/outpost-test", "/etc/outpost-test", "/opt/outpost/outpost-test", "/outpost-test"]) {
    const attempt = await shIn(handle, `touch ${path} 2>/dev/null && echo wrote || echo refused`);
    assert.equal(attempt.stdout, "refused\n", path);
  }
  const tmp = await shIn(handle, "echo x > /tmp/f && cat /tmp/f && stat -c %a /tmp");
  assert.equal(tmp.stdout, "x\n1777\n");
});

test("a sandbox's environment holds only HOME, USER, PATH, LANG and PWD, nothing of the control plane's", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("env-check");
  const handle = await driver.ensure(spec, ensureOptions());
  const env = await execIn(handle, ["/usr/bin/env"]);
  assert.deepEqual(env.stdout.trim().split("\n").sort(), [
    "HOME=/home/outpost",
    "LANG=C.UTF-8",
    "PATH=/opt/outpost/bin:/usr/local/bin:/usr/bin:/bin",
    "PWD=/workspace", // set by bwrap's --chdir
    "USER=outpost",
  ]);
});
