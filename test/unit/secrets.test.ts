import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { parseSecretKey, SecretBox } from "../../src/crypto/secrets.ts";
import { OutpostError } from "../../src/domain/errors.ts";

describe("secret encryption at rest", () => {
  const box = new SecretBox(randomBytes(32));

  test("a sealed value opens to the same text and does not contain it", () => {
    const sealed = box.seal("hunter2-secret-value", "project_env:prj_1:API_KEY");
    assert.ok(sealed.startsWith("v1:"));
    assert.ok(!sealed.includes("hunter2"));
    assert.equal(box.open(sealed, "project_env:prj_1:API_KEY"), "hunter2-secret-value");
  });

  test("sealing the same value twice gives different ciphertexts (random IV)", () => {
    assert.notEqual(box.seal("x", "c"), box.seal("x", "c"));
  });

  test("a ciphertext moved to another row does not open", () => {
    const sealed = box.seal("secret", "project_env:prj_1:A");
    assert.throws(
      () => box.open(sealed, "project_env:prj_2:A"),
      (e: unknown) => e instanceof OutpostError && e.code === "SECRET_DECRYPT_FAILED",
    );
  });

  test("another key or a tampered value does not open", () => {
    const sealed = box.seal("secret", "ctx");
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, "ctx"), OutpostError);
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    assert.throws(() => box.open(`v1:${raw.toString("base64")}`, "ctx"), OutpostError);
    assert.throws(() => box.open("garbage", "ctx"), OutpostError);
  });

  test("secret keys are accepted as base64 or hex of 32 bytes only", () => {
    const key = randomBytes(32);
    assert.deepEqual(parseSecretKey(key.toString("base64")), key);
    assert.deepEqual(parseSecretKey(key.toString("hex")), key);
    assert.equal(parseSecretKey("too-short"), null);
    assert.equal(parseSecretKey(randomBytes(16).toString("base64")), null);
  });
});
