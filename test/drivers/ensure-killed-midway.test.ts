// ensure() must survive its caller being killed at any line: a control plane that dies
// midway leaves half-made folders, a uid claim, a launch that was never recorded, or a
// sandbox whose supervisor dials a dead socket; the next control plane's ensure on the same
// spec must end with exactly one sandbox running under the uid that was claimed, and
// remove must leave nothing. The dying control plane is a child process
// (child-control-plane.ts) that SIGKILLs itself at the named stage event, or, for the
// moment between spawning bwrap and recording it, is killed by this test while a stand-in
// for bwrap holds the launch there.
import assert from "node:assert/strict";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { SandboxHandle } from "../../src/drivers/driver.ts";
import { markerArgs } from "../../src/drivers/local/launcher.ts";
import { sandboxMarker, sandboxPaths } from "../../src/drivers/local/layout.ts";
import { pollUntil } from "../../src/drivers/local/poll.ts";
import { findBwrap } from "../../src/drivers/local/preflight.ts";
import { descendantsOf, pidsWithArgs, runningPidsOfUid } from "../../src/drivers/local/processes.ts";
import { readRuntime } from "../../src/drivers/local/runtime.ts";
import { childControlPlane } from "./child-control-plane.ts";
import { ensureOptions, execIn, hostUidOf, isRoot, processesOf, recordedHostUid, specFor, type TestBed, testBed } from "./helpers.ts";

/** Claims in the bed's claims folder that name this sandbox. */
function claimsOf(bed: TestBed, sandboxId: string): number[] {
  const dir = bed.options.hostUidClaimsDir as string;
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => JSON.parse(readFileSync(join(dir, name), "utf8")).sandboxId === sandboxId)
    .map(Number);
}

/** What the next control plane finds and does: start, ensure, and the checks that exactly
 *  one sandbox runs, under the uid that was claimed before the kill (if any was). */
async function finishAndCheck(bed: TestBed, sandboxId: string, name: string, outcome: SandboxHandle["outcome"]): Promise<void> {
  const claimedBefore = recordedHostUid(bed.root, sandboxId);
  const { driver, root } = bed;
  await driver.start();
  const handle = await driver.ensure({ sandboxId, name }, ensureOptions());
  assert.equal(handle.outcome, outcome);
  assert.equal((await execIn(handle, ["hostname"])).stdout, `${name}\n`);

  // Exactly one sandbox: the marked processes are the recorded bwrap and its pid-1, and
  // (as root) every process of the uid descends from that bwrap.
  const runtime = readRuntime(sandboxPaths(root, sandboxId).runtimeFile);
  assert.ok(runtime, "runtime.json records the running sandbox");
  assert.equal(handle.driverState.initPid, runtime.init.pid);
  assert.deepEqual(
    pidsWithArgs(markerArgs(sandboxMarker(root, sandboxId))).sort(),
    [runtime.bwrap.pid, runtime.init.pid].sort(),
    "one bwrap and one sandbox pid-1, no stray from the killed launch",
  );
  const uid = hostUidOf(handle);
  if (isRoot) {
    assert.ok(uid !== undefined);
    if (claimedBefore !== undefined) assert.equal(uid, claimedBefore, "the uid claimed before the kill is reused");
    assert.deepEqual(claimsOf(bed, sandboxId), [uid], "one claim for the sandbox, no leaked one");
    const family = new Set([runtime.bwrap.pid, ...descendantsOf(runtime.bwrap.pid)]);
    assert.deepEqual(
      runningPidsOfUid(uid as number).filter((pid) => !family.has(pid)),
      [],
      "every process of the uid belongs to the one sandbox",
    );
  }

  await driver.remove(sandboxId, { keepWorkspace: false, signal: AbortSignal.timeout(30_000), graceMs: 2000 });
  assert.deepEqual(processesOf(root, sandboxId, uid), [], "remove leaves nothing running");
  assert.deepEqual(claimsOf(bed, sandboxId), [], "remove releases the uid");
  assert.deepEqual(await driver.list(), []);
}

for (const [dieAt, outcome] of [
  ["workspace:running", "started"],
  ["isolation:running", "started"],
  ["supervisor:running", "adopted"],
] as const) {
  test(`a control plane killed at ${dieAt} leaves a sandbox the next ensure ${outcome === "adopted" ? "adopts" : "starts"}, exactly once`, async (t) => {
    const bed = testBed(t);
    const spec = specFor("midway");
    const child = childControlPlane(t, bed.options, spec, dieAt);
    await child.line(`stage ${dieAt}`);
    assert.equal(await child.exited, "SIGKILL");
    await finishAndCheck(bed, spec.sandboxId, spec.name, outcome);
  });
}

test("a control plane killed after spawning bwrap but before recording it leaves an untracked sandbox, which the next ensure sweeps before it starts one", async (t) => {
  const bed = testBed(t);
  const spec = specFor("midlaunch");
  // Stands in for bwrap. The launch (the call with --args) gets the real bwrap with its
  // info fd sent to /dev/null: the driver never learns the pids and waits in launch(),
  // while bwrap waits on its block fd. Killing the control plane closes that fd and the
  // sandbox runs on with nothing recorded. Other calls (version, trial) go straight through.
  const bwrap = findBwrap();
  assert.ok(bwrap);
  const wrapper = join(bed.dataDir, "bwrap-wrapper");
  writeFileSync(wrapper, `#!/bin/sh\ncase " $* " in *" --args "*) exec ${bwrap} "$@" 3>/dev/null ;; esac\nexec ${bwrap} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const child = childControlPlane(t, { ...bed.options, bwrapPath: wrapper }, spec);
  await child.line("stage isolation:running");
  // bwrap and the sandbox's pid-1 (a bwrap too) carry the marker once both exist.
  const marker = markerArgs(sandboxMarker(bed.root, spec.sandboxId));
  await pollUntil(() => (pidsWithArgs(marker).length >= 2 ? true : undefined), { signal: AbortSignal.timeout(15_000), timeoutMs: 15_000, maxDelayMs: 20 });
  child.process.kill("SIGKILL");
  assert.equal(await child.exited, "SIGKILL");
  const paths = sandboxPaths(bed.root, spec.sandboxId);
  assert.ok(existsSync(paths.launchingFile), "the launch was never recorded");
  assert.equal(readRuntime(paths.runtimeFile), null);
  assert.ok(processesOf(bed.root, spec.sandboxId).length >= 2, "the unrecorded sandbox runs on");
  await finishAndCheck(bed, spec.sandboxId, spec.name, "started");
});
