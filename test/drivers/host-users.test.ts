import assert from "node:assert/strict";
import { test } from "node:test";
import { isDriverError } from "../../src/drivers/errors.ts";
import { DEFAULT_HOST_UID_RANGE, isInRange, pickHostUid } from "../../src/drivers/local/host-users.ts";

test("the first sandbox gets the first uid of the default range 200000–299999", () => {
  assert.deepEqual({ ...DEFAULT_HOST_UID_RANGE }, { first: 200_000, last: 299_999 });
  assert.equal(pickHostUid([]), 200_000);
});

test("the lowest free uid is picked and uids outside the range are ignored", () => {
  assert.equal(pickHostUid([200_000, 200_001, 200_003, 1000, 0]), 200_002);
  assert.equal(pickHostUid(new Set([5, 6]), { first: 5, last: 9 }), 7);
});

test("a full range is reported as HOST_UIDS_EXHAUSTED", () => {
  assert.throws(
    () => pickHostUid([10, 11, 12], { first: 10, last: 12 }),
    (error) => isDriverError(error, "HOST_UIDS_EXHAUSTED"),
  );
});

test("a nonsensical range is refused", () => {
  assert.throws(
    () => pickHostUid([], { first: 0, last: 10 }),
    (error) => isDriverError(error, "INVALID_SANDBOX_SPEC"),
  );
  assert.throws(
    () => pickHostUid([], { first: 20, last: 10 }),
    (error) => isDriverError(error, "INVALID_SANDBOX_SPEC"),
  );
});

test("range membership needs a whole number inside the bounds", () => {
  assert.ok(isInRange(250_000));
  assert.ok(!isInRange(199_999));
  assert.ok(!isInRange(300_000));
  assert.ok(!isInRange(250_000.5));
});
