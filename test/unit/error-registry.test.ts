// The error registry covers every code a user can meet (the control plane's, the
// supervisor's, the drivers'), each with a status and a one-line hint; describeError turns
// anything thrown into one of those codes with a bounded message.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { describeError, ERRORS, type ErrorCode, isErrorCode, MAX_DESCRIBED_MESSAGE_CHARS } from "../../src/domain/error-registry.ts";
import { ERROR_STATUS, OutpostError, StartupError } from "../../src/domain/errors.ts";
import { DRIVER_ERROR_CODES, DriverError } from "../../src/drivers/errors.ts";
import { SupervisorClientError } from "../../src/supervisor/client.ts";
import { SUPERVISOR_ERROR_STATUS } from "../../src/supervisor/protocol.ts";

const codes = Object.keys(ERRORS) as ErrorCode[];

describe("the error registry", () => {
  test("every code is UPPER_SNAKE with an error status, a one-line hint and a retry flag", () => {
    for (const code of codes) {
      const spec = ERRORS[code];
      assert.match(code, /^[A-Z][A-Z0-9_]*$/);
      assert.ok(spec.status >= 400 && spec.status <= 599, code);
      assert.ok(spec.hint.trim().length > 0, `${code} has a hint`);
      assert.ok(!spec.hint.includes("\n"), `${code}'s hint is one line`);
      assert.ok(spec.hint.length <= 160, `${code}'s hint is short: ${spec.hint}`);
      assert.equal(typeof spec.retryable, "boolean", code);
      assert.equal(ERROR_STATUS[code], spec.status, "ERROR_STATUS is read from the registry");
    }
  });

  test("every code the supervisor answers with is registered", () => {
    for (const code of Object.keys(SUPERVISOR_ERROR_STATUS)) assert.ok(isErrorCode(code), code);
  });

  test("every code the supervisor's client raises is registered", () => {
    for (const code of ["SUPERVISOR_UNAVAILABLE", "SUPERVISOR_PROTOCOL_MISMATCH", "SUPERVISOR_BAD_RESPONSE", "SUPERVISOR_TIMEOUT", "PORT_NOT_LISTENING"]) {
      assert.ok(isErrorCode(code), code);
    }
  });

  test("every code a driver throws is registered, so a failed sandbox keeps the driver's code", () => {
    for (const code of DRIVER_ERROR_CODES) {
      assert.ok(isErrorCode(code), code);
      assert.equal(describeError(new DriverError(code, "m")).code, code);
    }
    assert.match(ERRORS.BWRAP_MISSING.hint, /apt-get install -y bubblewrap/);
  });

  test("only failures that can pass by themselves are retryable", () => {
    const retryable = codes.filter((code) => ERRORS[code].retryable);
    for (const code of ["SUPERVISOR_TIMEOUT", "SUPERVISOR_UNAVAILABLE", "DATABASE_UNAVAILABLE", "RATE_LIMITED"])
      assert.ok(retryable.includes(code as ErrorCode), code);
    for (const code of retryable) assert.ok([408, 429, 503, 504].includes(ERRORS[code].status), `${code} (${ERRORS[code].status}) is retryable`);
    for (const code of ["VALIDATION_FAILED", "UNAUTHENTICATED", "PROJECT_NOT_FOUND", "BWRAP_MISSING"] as const)
      assert.equal(ERRORS[code].retryable, false, code);
  });
});

describe("describeError", () => {
  test("a registered code keeps its code, message, hint and retry flag", () => {
    assert.deepEqual(describeError(new SupervisorClientError("SUPERVISOR_TIMEOUT", "no answer within 15000 ms")), {
      code: "SUPERVISOR_TIMEOUT",
      message: "no answer within 15000 ms",
      hint: ERRORS.SUPERVISOR_TIMEOUT.hint,
      retryable: true,
    });
  });

  test("an error's own fix replaces the registry's hint, on one line", () => {
    const error = new OutpostError("SANDBOX_RUNTIME_UNAVAILABLE", "no bubblewrap", { fix: "apt-get install\n  -y bubblewrap" });
    assert.equal(describeError(error).hint, "apt-get install -y bubblewrap");
    assert.equal(describeError(new StartupError("port taken", "set OUTPOST_PORT")).hint, "set OUTPOST_PORT");
  });

  test("an unregistered code becomes the fallback: INTERNAL, or what the caller's context says", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" });
    assert.equal(describeError(enoent).code, "INTERNAL");
    assert.equal(describeError(enoent, "SANDBOX_START_FAILED").code, "SANDBOX_START_FAILED");
    assert.equal(describeError(enoent, "SANDBOX_START_FAILED").message, "ENOENT: no such file");
    assert.equal(describeError(Object.assign(new Error("x"), { code: "NOT_A_REAL_CODE" })).code, "INTERNAL");
    assert.equal(describeError(Object.assign(new Error("x"), { code: "constructor" })).code, "INTERNAL", "prototype names are not codes");
  });

  test("junk of any kind gives a registered code and a non-empty message", () => {
    const junk: unknown[] = [
      undefined,
      null,
      42,
      "a plain string",
      "",
      Symbol("s"),
      { code: 7, message: { nested: true } },
      Object.create(null),
      {
        get message() {
          throw new Error("no");
        },
      },
      [1, 2],
    ];
    for (const thing of junk) {
      const described = describeError(thing);
      assert.ok(isErrorCode(described.code), String(described.code));
      assert.equal(typeof described.message, "string");
      assert.ok(described.message.length > 0);
      assert.equal(described.hint, ERRORS[described.code].hint);
    }
    assert.equal(describeError("a plain string").message, "a plain string");
  });

  test("a huge message is cut to the bound, ending with an ellipsis and never half a character", () => {
    const huge = describeError(new Error("x".repeat(1_000_000)));
    assert.equal(huge.message.length, MAX_DESCRIBED_MESSAGE_CHARS);
    assert.ok(huge.message.endsWith("…"));
    const emoji = describeError(new Error(`${"x".repeat(MAX_DESCRIBED_MESSAGE_CHARS - 2)}😀😀`)).message;
    assert.ok(emoji.length <= MAX_DESCRIBED_MESSAGE_CHARS);
    assert.doesNotMatch(emoji, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/, "no lone surrogate");
  });
});
