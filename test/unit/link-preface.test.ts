// The link's preface: what a supervisor must say before the control plane speaks HTTP/2
// with it, and how the control plane's answer reads. Pure: no sockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  formatAnswer,
  formatHello,
  MAX_PREFACE_BYTES,
  PrefaceError,
  PrefaceReader,
  parseAnswer,
  parseHello,
  pickProtocol,
} from "../../src/supervisor/link/preface.ts";

const hello = { sandboxId: "sbx_abc123", token: "t".repeat(43), protocols: [2], supervisorVersion: "0.1.0", capabilities: ["pty"], pid: 2 };
const line = (value: unknown) => `OUTPOST-LINK ${JSON.stringify(value)}`;

describe("link preface", () => {
  test("a hello survives formatting and parsing", () => {
    assert.deepEqual(parseHello(formatHello(hello).trimEnd()), hello);
  });

  test("a hello with a bad field is refused, naming the field", () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...hello, sandboxId: "../other" }, /sandboxId/],
      [{ ...hello, token: "short" }, /token/],
      [{ ...hello, protocols: [] }, /protocols/],
      [{ ...hello, protocols: [1e20] }, /protocols/],
      [{ ...hello, pid: -1 }, /pid/],
      [{ ...hello, supervisorVersion: "x".repeat(65) }, /supervisorVersion/],
      [{ ...hello, capabilities: ["<script>"] }, /capabilities/],
    ];
    for (const [value, field] of bad)
      assert.throws(
        () => parseHello(line(value)),
        (error: Error) => error instanceof PrefaceError && field.test(error.message),
      );
    assert.throws(() => parseHello("GET / HTTP/1.1"), PrefaceError);
    assert.throws(() => parseHello("OUTPOST-LINK [1,2]"), PrefaceError);
    assert.throws(() => parseHello("OUTPOST-LINK {not json"), PrefaceError);
  });

  test("answers: OK with the protocol, NO with a code and a bounded message", () => {
    assert.deepEqual(parseAnswer(formatAnswer({ ok: true, protocol: 2 }).trimEnd()), { ok: true, protocol: 2 });
    const no = parseAnswer(formatAnswer({ ok: false, code: "LINK_BAD_TOKEN", message: "m".repeat(5000) }).trimEnd());
    assert.equal(no.ok, false);
    assert.ok(!no.ok && no.code === "LINK_BAD_TOKEN" && no.message.length === 500);
    assert.deepEqual(parseAnswer('NO {"code":"lower case","message":1}'), { ok: false, code: "LINK_REFUSED", message: "refused" });
  });

  test("the highest protocol both sides speak wins; none in common is null", () => {
    assert.equal(pickProtocol([2, 3], [1, 2, 3]), 3);
    assert.equal(pickProtocol([2], [3, 2]), 2);
    assert.equal(pickProtocol([2], [1]), null);
  });

  test("the reader returns the line and the bytes after it, whatever the chunking", () => {
    const bytes = Buffer.from(`${formatHello(hello)}PRI * HTTP/2.0`);
    for (let cut = 1; cut < bytes.length; cut += 7) {
      const reader = new PrefaceReader();
      const first = reader.push(bytes.subarray(0, cut));
      const got = first ?? reader.push(bytes.subarray(cut));
      assert.ok(got);
      assert.deepEqual(parseHello(got.line), hello);
      const rest = first ? Buffer.concat([got.rest, bytes.subarray(cut)]) : got.rest;
      assert.equal(rest.toString(), "PRI * HTTP/2.0");
    }
  });

  test("a preface that never ends is refused once it passes the bound", () => {
    const reader = new PrefaceReader();
    assert.throws(() => {
      for (let i = 0; i < 10; i++) reader.push(Buffer.alloc(MAX_PREFACE_BYTES / 4, 120));
    }, PrefaceError);
    assert.throws(() => new PrefaceReader().push(Buffer.from(`${"x".repeat(MAX_PREFACE_BYTES + 1)}\n`)), PrefaceError);
  });
});
