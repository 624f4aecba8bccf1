// The local driver chooses each sandbox's host uid itself (the spec has none): claimed
// machine-wide in its claims folder, recorded in spec.json, and tidied at start.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureOptions, hostUidOf, isRoot, recordedHostUid, specFor, testBed } from "./helpers.ts";

test("as root every sandbox gets a host uid of its own from the driver's range, claimed machine-wide and recorded in spec.json", async (t) => {
  const { driver, root, dataDir, options } = testBed(t);
  const [a, b] = [specFor("uid-a"), specFor("uid-b")];
  const handles = await Promise.all([driver.ensure(a, ensureOptions()), driver.ensure(b, ensureOptions())]);
  if (!isRoot) {
    assert.deepEqual(handles.map(hostUidOf), [undefined, undefined], "without root sandboxes run as this user");
    return;
  }
  const uids = handles.map((handle) => hostUidOf(handle) as number);
  assert.notEqual(uids[0], uids[1]);
  const range = options.hostUidRange as { first: number; last: number };
  for (const [index, spec] of [a, b].entries()) {
    const uid = uids[index] as number;
    assert.ok(uid >= range.first && uid <= range.last, `${uid} is in ${range.first}–${range.last}`);
    assert.equal(recordedHostUid(root, spec.sandboxId), uid);
    const claim = JSON.parse(readFileSync(join(options.hostUidClaimsDir as string, String(uid)), "utf8"));
    assert.deepEqual(claim, { dataDir, sandboxId: spec.sandboxId, role: "user" });
  }
});

test("start releases this installation's claims for sandboxes that no longer exist, and keeps other installations'", async (t) => {
  const { driver, dataDir, options } = testBed(t);
  const claims = options.hostUidClaimsDir as string;
  const range = options.hostUidRange as { first: number; last: number };
  const elsewhere = mkdtempSync(join(tmpdir(), "outpost-other-install-"));
  t.after(() => rmSync(elsewhere, { recursive: true, force: true }));
  // What a kill between removing a sandbox and releasing its uid leaves behind.
  mkdirSync(claims, { recursive: true });
  const orphan = join(claims, String(range.first));
  const theirs = join(claims, String(range.first + 1));
  writeFileSync(orphan, JSON.stringify({ dataDir, sandboxId: "sbx_removed_long_ago" }));
  writeFileSync(theirs, JSON.stringify({ dataDir: elsewhere, sandboxId: "sbx_removed_long_ago" }));

  await driver.start();
  assert.equal(existsSync(orphan), !isRoot, isRoot ? "the orphaned claim is released" : "without root claims are not used");
  assert.ok(existsSync(theirs), "another installation's claim is never touched");
});

test("root's block of an image sandbox: aligned, clear of every other claim, and single claims keep out of it", async () => {
  const { HostUidClaims } = await import("../../src/drivers/local/uid-claims.ts");
  const dir = mkdtempSync(join(tmpdir(), "outpost-claims-"));
  const dataDir = mkdtempSync(join(tmpdir(), "outpost-claims-data-"));
  try {
    // Blocks of 10 in a small range (the driver's are ROOT_BLOCK_SIZE = 1000).
    const range = { first: 500_000, last: 500_099 };
    const claims = new HostUidClaims(dataDir, dir, range);
    const user = claims.claim("sbx_one", []);
    assert.equal(user, 500_000);
    // The first aligned block without a claimed uid starts past the user's uid.
    const block = claims.claimBlock("sbx_one", 10, "root", []);
    assert.equal(block, 500_010);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, String(block)), "utf8")), { dataDir, sandboxId: "sbx_one", role: "root", size: 10 });
    assert.equal(claims.findFor("sbx_one", "root"), block);
    // Another installation's single claims go around the block, and a second block after them.
    const other = new HostUidClaims(mkdtempSync(join(tmpdir(), "outpost-claims-other-")), dir, range);
    const singles = Array.from({ length: 15 }, (_, i) => other.claim(`sbx_s${i}`, []));
    assert.ok(
      singles.every((uid) => uid < block || uid >= block + 10),
      `no single claim inside the block: ${singles}`,
    );
    assert.equal(singles.at(-1), 500_025);
    assert.equal(other.claimBlock("sbx_two", 10, "root", []), 500_030);
    claims.release(block, "sbx_one");
    assert.equal(other.claimBlock("sbx_three", 10, "root", []), 500_010, "a released block is free again");
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }
});
