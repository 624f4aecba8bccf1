import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { limitWrites, SandboxCgroup } from "../../src/drivers/local/cgroups.ts";
import { childrenOf } from "../../src/drivers/local/processes.ts";
import { ensureOptions, execIn, isRoot, shIn, specFor, testBed } from "./helpers.ts";

const limits = { cpus: 0.5, memoryBytes: 128 * 1024 * 1024, pids: 64 };

test("the sandbox's processes live in its cgroups, with the requested cpu, memory and pids limits written", async (t) => {
  const { driver } = testBed(t);
  const support = driver.cgroupSupport();
  t.diagnostic(`cgroups on this host: ${support.usable ? `${support.mode}, limits ${support.limitable.join(", ")}` : support.reason}`);
  const spec = specFor("limited", { limits });
  const handle = await driver.ensure(spec, ensureOptions());
  if (!support.usable) {
    assert.deepEqual(handle.unenforcedLimits.sort(), ["cpus", "memoryBytes", "pids"]);
    return;
  }
  assert.deepEqual(handle.unenforcedLimits, []);
  const cgroup = new SandboxCgroup(support, spec.sandboxId);
  const init = handle.driverState.initPid as number;
  const supervisor = childrenOf(init)[0] as number;
  const members = cgroup.pids();
  assert.ok(members.includes(init) && members.includes(supervisor), `init ${init} and supervisor ${supervisor} are in ${members.join(",")}`);
  const membership = readFileSync(`/proc/${supervisor}/cgroup`, "utf8");
  for (const hierarchy of support.hierarchies) {
    assert.ok(membership.includes(`/outpost/${spec.sandboxId}\n`), `${hierarchy.name}: ${membership}`);
  }
  for (const write of limitWrites(support.hierarchies, limits)) {
    if (write.optional) continue;
    const hierarchy = support.hierarchies.find((h) => h.name === write.hierarchy);
    assert.ok(hierarchy);
    assert.equal(
      readFileSync(join(cgroup.dir(hierarchy), write.file), "utf8")
        .trim()
        .split(" ")[0],
      write.value.split(" ")[0],
      write.file,
    );
  }
});

test("the pids and memory limits hold inside the sandbox", { skip: !isRoot && "cgroups need root" }, async (t) => {
  const { driver } = testBed(t);
  const support = driver.cgroupSupport();
  if (!support.limitable.includes("pids") || !support.limitable.includes("memoryBytes"))
    return t.skip(`this host cannot limit pids and memory: ${support.reason}`);
  const spec = specFor("limited-hold", { limits });
  const handle = await driver.ensure(spec, ensureOptions());

  // 100 sleeps cannot all start under pids.max = 64 (the supervisor's threads count too).
  // A failed fork leaves the child without a pid, synchronously: no waiting needed.
  const forkScript =
    'const {spawn} = require("child_process"); const kids = [];' +
    'for (let i = 0; i < 100; i++) { const c = spawn("sleep", ["60"], {stdio: "ignore"}); c.on("error", () => {}); kids.push(c); }' +
    "const started = kids.filter((c) => c.pid !== undefined); console.log(started.length); for (const c of started) c.kill('SIGKILL');";
  const forks = await execIn(handle, ["/opt/outpost/bin/node", "-e", forkScript]);
  const started = Number(forks.stdout.trim());
  t.diagnostic(`${started} of 100 sleeps started under pids.max = 64`);
  assert.ok(started > 0 && started < 64, `sleeps started: ${forks.stdout} ${forks.stderr.slice(0, 300)}`);

  // Touching 300 MiB under a 128 MiB limit (and no swap) gets the allocating process killed.
  const hog = await execIn(handle, ["/opt/outpost/bin/node", "-e", "const b = Buffer.alloc(300 * 1024 * 1024, 1); console.log('survived', b.length)"]);
  t.diagnostic(`memory hog: exit ${hog.exitCode}`);
  assert.ok(!hog.stdout.includes("survived") && hog.exitCode !== 0, `the memory hog was stopped: ${JSON.stringify(hog)}`);
  // The supervisor itself is still there to say so.
  assert.equal((await shIn(handle, "echo alive")).stdout, "alive\n");
});
