import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { HostUidClaims } from "../../src/drivers/local/uid-claims.ts";

describe("host uid claims across installations", () => {
  const range = { first: 500, last: 505 };
  const claimsDir = () => mkdtempSync(join(tmpdir(), "uid-claims-"));

  test("two installations on one machine never get the same uid", () => {
    const dir = claimsDir();
    const a = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-a-")), dir, range);
    const b = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-b-")), dir, range);
    const got = [a.claim("sbx_1", []), b.claim("sbx_2", []), a.claim("sbx_3", [500]), b.claim("sbx_4", [])];
    assert.equal(new Set(got).size, 4);
  });

  test("a released uid is reused; only its owner can release it", () => {
    const dir = claimsDir();
    const a = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-a-")), dir, range);
    const b = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-b-")), dir, range);
    const uid = a.claim("sbx_1", []);
    b.release(uid, "sbx_1");
    assert.notEqual(b.claim("sbx_2", []), uid, "b could not release a's claim");
    a.release(uid, "sbx_1");
    assert.equal(b.claim("sbx_3", []), uid);
  });

  test("a claim whose installation's data dir is gone is stale and reused", () => {
    const dir = claimsDir();
    const goneDataDir = mkdtempSync(join(tmpdir(), "inst-gone-"));
    const uid = new HostUidClaims(goneDataDir, dir, range).claim("sbx_1", []);
    rmSync(goneDataDir, { recursive: true });
    assert.equal(new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-new-")), dir, range).claim("sbx_2", []), uid);
  });

  test("claims of sandboxes the store never recorded are released at start, others kept", () => {
    const dir = claimsDir();
    const mine = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-a-")), dir, range);
    const theirs = new HostUidClaims(mkdtempSync(join(tmpdir(), "inst-b-")), dir, range);
    const kept = mine.claim("sbx_known", []);
    const orphan = mine.claim("sbx_orphan", []);
    const other = theirs.claim("sbx_x", []);
    assert.deepEqual(mine.releaseUnknown(new Set(["sbx_known"])), [orphan]);
    const next = mine.claim("sbx_new", []);
    assert.equal(next, orphan, "the orphan's uid is free again");
    assert.notEqual(next, kept);
    assert.notEqual(next, other);
  });
});
