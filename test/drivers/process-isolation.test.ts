import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { childrenOf } from "../../src/drivers/local/processes.ts";
import { ensureOptions, hostUidOf, isRoot, shIn, specFor, testBed } from "./helpers.ts";

const statusField = (pid: number, field: string) =>
  readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((line) => line.startsWith(`${field}:`))
    ?.split(/\s+/)
    .slice(1);

test("a sandbox sees only its own processes, not the host's nor another sandbox's", async (t) => {
  const { driver } = testBed(t);
  const a = specFor("procs-a");
  const b = specFor("procs-b");
  const [handleA, handleB] = await Promise.all([driver.ensure(a, ensureOptions()), driver.ensure(b, ensureOptions())]);
  // A long-lived, recognisable process in b.
  const started = await shIn(handleB, "setsid sleep 4242 </dev/null >/dev/null 2>&1 & echo started");
  assert.equal(started.stdout, "started\n");

  const seen = await shIn(handleA, "ps -eo pid=,args=");
  const lines = seen.stdout
    .trim()
    .split("\n")
    .map((line) => line.trim());
  assert.ok(!lines.some((line) => line.includes("sleep 4242")), "b's process is invisible in a");
  assert.ok(!seen.stdout.includes(driver.root), "no command line inside shows the host's folders");
  assert.match(
    lines[0] ?? "",
    /^1 \S*bwrap --setenv OUTPOST_SANDBOX \S+ --args 5 -- \/opt\/outpost\/bin\/node /,
    "pid 1 is the sandbox's own init, and its command line shows no host path",
  );
  assert.match(lines[1] ?? "", /^2 \/opt\/outpost\/bin\/node \/opt\/outpost\/supervisor\.js/, "pid 2 is its supervisor");
  // Only init, the supervisor, and the exec'd sh + ps.
  assert.ok(lines.length <= 4, `a sees only its own processes:\n${seen.stdout}`);
  const pidsInProc = (await shIn(handleA, "ls /proc | grep -c '^[0-9]'")).stdout.trim();
  assert.ok(Number(pidsInProc) <= 5, `ls /proc shows ${pidsInProc} pids`);
});

test("processes inside a sandbox run as its unprivileged host uid with no capabilities", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("procs-uid");
  const handle = await driver.ensure(spec, ensureOptions());
  const init = handle.driverState.initPid;
  assert.ok(typeof init === "number");
  const supervisor = childrenOf(init)[0];
  assert.ok(supervisor, "the supervisor is the child of the sandbox's init");
  const expected = String(isRoot ? hostUidOf(handle) : process.getuid?.());
  for (const pid of [init, supervisor]) {
    // real, effective, saved and filesystem uid, seen from the host
    assert.deepEqual(statusField(pid, "Uid"), [expected, expected, expected, expected]);
    assert.deepEqual(statusField(pid, "Gid"), [expected, expected, expected, expected]);
  }
  assert.deepEqual((statusField(supervisor, "Groups") ?? []).filter(Boolean), [], "no supplementary groups (root's would be)");
  assert.deepEqual(statusField(supervisor, "CapEff"), ["0000000000000000"]);
  assert.deepEqual(statusField(supervisor, "CapPrm"), ["0000000000000000"]);
  assert.deepEqual(statusField(supervisor, "NoNewPrivs"), ["1"]);
  const inside = await shIn(handle, "id -u; id -g; id -G");
  assert.equal(inside.stdout, "1000\n1000\n1000\n");
});
