// The bridge preface: what a supervisor on Kubernetes says before a connection carries its
// way out (proxy, gateway, ssh agent, database) through the link endpoint, and how the
// control plane's answer reads. Pure: no sockets.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BRIDGE_KINDS,
  formatBridgeAnswer,
  formatBridgeHello,
  formatHello,
  PrefaceError,
  PrefaceReader,
  parseBridgeAnswer,
  parseBridgeHello,
  prefaceKind,
} from "../../src/supervisor/link/preface.ts";

const bridge = { sandboxId: "sbx_abc123", token: "t".repeat(43), kind: "proxy" as const };
const line = (value: unknown) => `OUTPOST-BRIDGE ${JSON.stringify(value)}`;

describe("bridge preface", () => {
  test("a bridge line of every kind survives formatting and parsing", () => {
    for (const kind of BRIDGE_KINDS) assert.deepEqual(parseBridgeHello(formatBridgeHello({ ...bridge, kind }).trimEnd()), { ...bridge, kind });
  });

  test("the first word tells a link from a bridge; anything else is neither", () => {
    assert.equal(prefaceKind(formatBridgeHello(bridge).trimEnd()), "bridge");
    assert.equal(
      prefaceKind(formatHello({ sandboxId: "sbx_a", token: bridge.token, protocols: [2], supervisorVersion: "0", capabilities: [], pid: 2 }).trimEnd()),
      "link",
    );
    assert.equal(prefaceKind("GET / HTTP/1.1"), null);
    assert.equal(prefaceKind("OUTPOST-BRIDGES {}"), null);
  });

  test("a bridge line with a bad field is refused, naming the field", () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ...bridge, sandboxId: "../other" }, /sandboxId/],
      [{ ...bridge, sandboxId: 7 }, /sandboxId/],
      [{ ...bridge, token: "short" }, /token/],
      [{ ...bridge, token: "x".repeat(257) }, /token/],
      [{ ...bridge, kind: "kubernetes-api" }, /kind/],
      [{ sandboxId: bridge.sandboxId, token: bridge.token }, /kind/],
    ];
    for (const [value, field] of bad)
      assert.throws(
        () => parseBridgeHello(line(value)),
        (error: Error) => error instanceof PrefaceError && field.test(error.message),
      );
    assert.throws(() => parseBridgeHello('OUTPOST-BRIDGE ["proxy"]'), PrefaceError);
    assert.throws(() => parseBridgeHello("OUTPOST-BRIDGE {nope"), PrefaceError);
    assert.throws(
      () =>
        parseBridgeHello(formatHello({ sandboxId: "sbx_a", token: bridge.token, protocols: [2], supervisorVersion: "0", capabilities: [], pid: 2 }).trimEnd()),
      PrefaceError,
    );
  });

  test("answers: OK {} or NO with a code and a bounded message", () => {
    assert.equal(formatBridgeAnswer({ ok: true }), "OK {}\n");
    assert.deepEqual(parseBridgeAnswer("OK {}"), { ok: true });
    const no = parseBridgeAnswer(formatBridgeAnswer({ ok: false, code: "LINK_BAD_TOKEN", message: "m".repeat(5000) }).trimEnd());
    assert.ok(!no.ok && no.code === "LINK_BAD_TOKEN" && no.message.length === 500);
    assert.deepEqual(parseBridgeAnswer('NO {"code":"<b>","message":null}'), { ok: false, code: "LINK_REFUSED", message: "refused" });
    assert.throws(() => parseBridgeAnswer("HTTP/1.1 200 OK"), PrefaceError);
  });

  test("a bridge line is bounded like a hello", () => {
    assert.throws(() => new PrefaceReader().push(Buffer.from(`${line({ ...bridge, pad: "x".repeat(5000) })}\n`)), PrefaceError);
  });
});
