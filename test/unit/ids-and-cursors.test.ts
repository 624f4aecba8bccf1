import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { OutpostError } from "../../src/domain/errors.ts";
import { isIdOf, newId, randomLowerAlnum } from "../../src/domain/ids.ts";
import { decodeCursor, encodeCursor } from "../../src/services/projects.ts";

describe("ids", () => {
  test("ids carry their type prefix and are URL, file and DNS safe", () => {
    const id = newId("project");
    assert.match(id, /^prj_[a-z0-9]{16}$/);
    assert.ok(isIdOf("project", id));
    assert.ok(!isIdOf("sandbox", id));
  });
  test("random strings use only [a-z0-9] and do not repeat", () => {
    const seen = new Set(Array.from({ length: 1000 }, () => randomLowerAlnum(6)));
    assert.ok(seen.size > 990);
    for (const s of seen) assert.match(s, /^[a-z0-9]{6}$/);
  });
});

describe("list cursors", () => {
  test("a cursor round-trips", () => assert.equal(decodeCursor(encodeCursor(42)), 42));
  test("a forged cursor is a 400-class error, not a crash", () => {
    for (const bad of ["", "abc", Buffer.from("s:-1").toString("base64url"), Buffer.from("s:1;drop").toString("base64url")]) {
      assert.throws(
        () => decodeCursor(bad),
        (e: unknown) => e instanceof OutpostError && e.code === "INVALID_CURSOR" && e.status === 400,
      );
    }
  });
});
