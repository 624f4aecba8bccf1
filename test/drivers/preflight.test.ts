import assert from "node:assert/strict";
import { test } from "node:test";
import { isDriverError } from "../../src/drivers/errors.ts";
import { checkBubblewrap, classifyBwrapFailure, type UsernsSysctls } from "../../src/drivers/local/preflight.ts";
import { freshHostUid, isRoot } from "./helpers.ts";

const permissive: UsernsSysctls = { maxUserNamespaces: "15000", unprivilegedUsernsClone: null, apparmorRestrictUnprivilegedUserns: null };

test("this host's bubblewrap works and can create every namespace a sandbox uses", async () => {
  const result = await checkBubblewrap();
  assert.ok(result.ok, result.ok ? "" : result.error.message);
  assert.match(result.bwrap.version, /^\d+\.\d+/);
  assert.match(result.bwrap.path, /bwrap$/);
});

test("bubblewrap also works as an unprivileged uid from the sandbox range", { skip: !isRoot && "needs root to switch uid" }, async () => {
  const uid = freshHostUid();
  const result = await checkBubblewrap({ owner: { uid, gid: uid } });
  assert.ok(result.ok, result.ok ? "" : result.error.message);
});

test("a missing bwrap is BWRAP_MISSING with the install command as the fix", async () => {
  const result = await checkBubblewrap({ bwrapPath: "/nonexistent/bwrap" });
  assert.equal(result.ok, false);
  assert.ok(!result.ok && isDriverError(result.error, "BWRAP_MISSING"));
  assert.match(result.error.message, /apt-get install -y bubblewrap/);
});

test("refused user namespaces are USERNS_DENIED with the sysctl that fixes this host", () => {
  const stderr = "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.";
  const debian = classifyBwrapFailure(stderr, { ...permissive, unprivilegedUsernsClone: "0" });
  assert.equal(debian.code, "USERNS_DENIED");
  assert.match(debian.message, /fix: sysctl -w kernel\.unprivileged_userns_clone=1$/);

  const ubuntu = classifyBwrapFailure("bwrap: setting up uid map: Permission denied", { ...permissive, apparmorRestrictUnprivilegedUserns: "1" });
  assert.equal(ubuntu.code, "USERNS_DENIED");
  assert.match(ubuntu.message, /kernel\.apparmor_restrict_unprivileged_userns=0/);

  const zero = classifyBwrapFailure("bwrap: Creating new namespace failed: No space left on device", { ...permissive, maxUserNamespaces: "0" });
  assert.match(zero.message, /user\.max_user_namespaces=/);
});

test("other bwrap failures say what bwrap said, and an old bwrap is told to upgrade", () => {
  const container = classifyBwrapFailure("bwrap: Can't mount proc on /newroot/proc: Operation not permitted\n", permissive);
  assert.equal(container.code, "BWRAP_FAILED");
  assert.match(container.message, /Can't mount proc/);
  const old = classifyBwrapFailure("bwrap: Unknown option --perms", permissive);
  assert.equal(old.code, "BWRAP_FAILED");
  assert.match(old.message, /0\.8 or newer/);
});
