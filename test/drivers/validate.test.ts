import assert from "node:assert/strict";
import { test } from "node:test";
import type { SandboxSpec } from "../../src/drivers/driver.ts";
import { type DriverErrorCode, isDriverError } from "../../src/drivers/errors.ts";
import { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { isRoot } from "./helpers.ts";

const driver = new LocalDriver({ root: "/var/lib/outpost/sandboxes", supervisorBundle: "/opt/outpost/dist/supervisor.js" });
const good: SandboxSpec = { sandboxId: "sbx_0a1b2c", name: "my-project", ...(isRoot ? { hostUid: 200_001, hostGid: 200_001 } : {}) };

function rejects(spec: SandboxSpec, code: DriverErrorCode, field?: string, on = driver): void {
  assert.throws(
    () => on.validate(spec),
    (error) => isDriverError(error, code) && (field === undefined || error.details?.field === field),
    `${JSON.stringify(spec)} should fail with ${code} ${field ?? ""}`,
  );
}

test("a well-formed spec passes validation", () => {
  driver.validate(good);
  driver.validate({ ...good, limits: { cpus: 0.5, memoryBytes: 512 * 1024 * 1024, pids: 512 } });
});

test("ids that could walk out of the root, and names that are not DNS labels, are refused", () => {
  for (const sandboxId of ["", "../etc", "a/b", ".hidden", "x".repeat(64), "sbx 1"]) rejects({ ...good, sandboxId }, "INVALID_SANDBOX_SPEC", "sandboxId");
  for (const name of ["", "My-Project", "-x", "x-", "under_score", "a".repeat(64)]) rejects({ ...good, name }, "INVALID_SANDBOX_SPEC", "name");
});

test("limits below what a supervisor needs, or not numbers, are refused", () => {
  rejects({ ...good, limits: { cpus: 0 } }, "INVALID_SANDBOX_SPEC", "limits.cpus");
  rejects({ ...good, limits: { cpus: Number.NaN } }, "INVALID_SANDBOX_SPEC", "limits.cpus");
  rejects({ ...good, limits: { memoryBytes: 1024 * 1024 } }, "INVALID_SANDBOX_SPEC", "limits.memoryBytes");
  rejects({ ...good, limits: { memoryBytes: 128 * 1024 * 1024 + 0.5 } }, "INVALID_SANDBOX_SPEC", "limits.memoryBytes");
  rejects({ ...good, limits: { pids: 4 } }, "INVALID_SANDBOX_SPEC", "limits.pids");
});

test("a data dir so deep that the supervisor socket path would pass 107 bytes is refused up front", () => {
  const deep = new LocalDriver({ root: `/${"d".repeat(90)}/sandboxes`, supervisorBundle: "/x.js" });
  rejects(good, "INVALID_SANDBOX_SPEC", "sandboxId", deep);
});

test("as root a sandbox needs an unprivileged host uid from the reserved range", () => {
  const asRoot = new LocalDriver({ root: "/srv/sandboxes", supervisorBundle: "/x.js", runningAsRoot: true });
  rejects({ sandboxId: "sbx_1", name: "x" }, "HOST_UID_REQUIRED", undefined, asRoot);
  rejects({ ...good, hostUid: 0 }, "INVALID_SANDBOX_SPEC", "hostUid", asRoot);
  rejects({ ...good, hostUid: 1000 }, "INVALID_SANDBOX_SPEC", "hostUid", asRoot);
  rejects({ ...good, hostGid: 0 }, "INVALID_SANDBOX_SPEC", "hostGid", asRoot);
  const custom = new LocalDriver({ root: "/srv/sandboxes", supervisorBundle: "/x.js", runningAsRoot: true, hostUidRange: { first: 500_000, last: 500_010 } });
  custom.validate({ ...good, hostUid: 500_005, hostGid: 500_005 });
  rejects({ ...good, hostUid: 200_001 }, "INVALID_SANDBOX_SPEC", "hostUid", custom);
});

test("without root a host uid cannot be honoured and is refused", () => {
  const asUser = new LocalDriver({ root: "/srv/sandboxes", supervisorBundle: "/x.js", runningAsRoot: false });
  rejects({ ...good, hostUid: 200_001 }, "INVALID_SANDBOX_SPEC", "hostUid", asUser);
});
