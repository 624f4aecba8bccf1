import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { test } from "node:test";
import type { SandboxSpec } from "../../src/drivers/driver.ts";
import { type DriverErrorCode, isDriverError } from "../../src/drivers/errors.ts";
import { MAX_SOCKET_PATH } from "../../src/drivers/local/layout.ts";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";

// A root that does not exist: validate() must not need it (it does no I/O).
const ROOT = "/nonexistent-outpost-test/sandboxes";
const driver = new LocalDriver({ root: ROOT, outpostDir: "/nonexistent-outpost-test/opt-outpost" });
const good: SandboxSpec = { sandboxId: "sbx_0a1b2c", name: "my-project" };

function rejects(spec: SandboxSpec, code: DriverErrorCode, field?: string, on = driver): void {
  assert.throws(
    () => on.validate(spec),
    (error) => isDriverError(error, code) && (field === undefined || error.details?.field === field),
    `${JSON.stringify(spec)} should fail with ${code} ${field ?? ""}`,
  );
}

/** A driver whose root makes `<root>/<sandboxId>/link/link.sock` exactly `length` bytes long. */
function driverWithSocketPathOf(length: number, sandboxId: string): LocalDriver {
  const tail = `/${sandboxId}/link/link.sock`.length;
  const prefix = "/srv/";
  const root = `${prefix}${"d".repeat(length - tail - prefix.length)}`;
  return new LocalDriver({ root, outpostDir: "/x" });
}

test("a well-formed spec passes validation without touching the disk", () => {
  driver.validate(good);
  driver.validate({ ...good, limits: { cpus: 0.5, memoryBytes: 512 * 1024 * 1024, pids: 512 } });
  driver.validate({ ...good, workspaceFrom: "sbx_older_1" });
  assert.ok(!existsSync(ROOT), "validate created nothing");
});

test("ids that could walk out of the root, and names that are not DNS labels, are refused", () => {
  for (const sandboxId of ["", "../etc", "a/b", ".hidden", "x".repeat(64), "sbx 1"]) rejects({ ...good, sandboxId }, "INVALID_SANDBOX_SPEC", "sandboxId");
  for (const name of ["", "My-Project", "-x", "x-", "under_score", "a".repeat(64)]) rejects({ ...good, name }, "INVALID_SANDBOX_SPEC", "name");
});

test("a workspaceFrom that is not a sandbox id is refused (it names a folder to move)", () => {
  for (const workspaceFrom of ["", "../etc", "sbx_1/../../x", "/root", ".hidden", "x".repeat(64)]) {
    rejects({ ...good, workspaceFrom }, "INVALID_SANDBOX_SPEC", "workspaceFrom");
  }
  rejects({ ...good, workspaceFrom: 42 as unknown as string }, "INVALID_SANDBOX_SPEC", "workspaceFrom");
});

test("limits below what a supervisor needs, or not numbers, are refused", () => {
  rejects({ ...good, limits: { cpus: 0 } }, "INVALID_SANDBOX_SPEC", "limits.cpus");
  rejects({ ...good, limits: { cpus: Number.NaN } }, "INVALID_SANDBOX_SPEC", "limits.cpus");
  rejects({ ...good, limits: { memoryBytes: 1024 * 1024 } }, "INVALID_SANDBOX_SPEC", "limits.memoryBytes");
  rejects({ ...good, limits: { memoryBytes: 128 * 1024 * 1024 + 0.5 } }, "INVALID_SANDBOX_SPEC", "limits.memoryBytes");
  rejects({ ...good, limits: { pids: 4 } }, "INVALID_SANDBOX_SPEC", "limits.pids");
});

test("a link socket path of up to 107 bytes passes and one byte more is refused up front, naming the fix", () => {
  driverWithSocketPathOf(MAX_SOCKET_PATH, good.sandboxId).validate(good);
  const deep = driverWithSocketPathOf(MAX_SOCKET_PATH + 1, good.sandboxId);
  rejects(good, "INVALID_SANDBOX_SPEC", "sandboxId", deep);
  assert.throws(() => deep.validate(good), /link socket path .* longer than 107 bytes; choose a shorter data dir/);
  // The id is part of the path: a longer id on the same root crosses the limit too.
  const exact = driverWithSocketPathOf(MAX_SOCKET_PATH, "sbx_1");
  exact.validate({ ...good, sandboxId: "sbx_1" });
  rejects({ ...good, sandboxId: "sbx_12" }, "INVALID_SANDBOX_SPEC", "sandboxId", exact);
});

test("a host uid in the spec plays no part: the driver chooses it, so a spec without one is complete as root too", () => {
  const asRoot = new LocalDriver({ root: ROOT, outpostDir: "/x", runningAsRoot: true });
  asRoot.validate(good);
  const asUser = new LocalDriver({ root: ROOT, outpostDir: "/x", runningAsRoot: false });
  asUser.validate(good);
});
