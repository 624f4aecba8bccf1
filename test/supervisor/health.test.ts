// The daemon's contract with the local driver: health, the protocol header, the socket's
// mode, supervisor.json, a stale socket, SIGTERM → exit 0; and the client's protocol check.
import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { SupervisorTransport } from "../../src/supervisor/client-transport.ts";
import { PROTOCOL_HEADER } from "../../src/supervisor/protocol.ts";
import { rawRequest, startDaemon, stopAllDaemons, tempDir } from "./helpers.ts";

after(stopAllDaemons);

describe("supervisor health and start-up", () => {
  test("health answers with protocol 1, the supervisor's version, its pid and its uptime", async () => {
    const daemon = await startDaemon();
    const health = await daemon.client.health();
    assert.equal(health.protocol, 1);
    assert.match(health.supervisorVersion, /^\d+\.\d+\.\d+/);
    assert.equal(health.pid, daemon.pid);
    assert.ok(health.uptimeMs >= 0);
    await daemon.client.assertCompatible();
  });

  test("every response carries the protocol header, errors included", async () => {
    const daemon = await startDaemon();
    const ok = await rawRequest(daemon.socketPath, { method: "GET", path: "/v1/health" });
    const missing = await rawRequest(daemon.socketPath, { method: "GET", path: "/v2/nothing" });
    assert.equal(ok.headers[PROTOCOL_HEADER], "1");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers[PROTOCOL_HEADER], "1");
  });

  test("the socket is private (mode 0600) and supervisor.json records protocol, pid and start time", async () => {
    const daemon = await startDaemon();
    assert.equal(statSync(daemon.socketPath).mode & 0o777, 0o600);
    const info = JSON.parse(readFileSync(join(daemon.stateDir, "supervisor.json"), "utf8"));
    assert.equal(info.protocol, 1);
    assert.equal(info.pid, daemon.pid);
    assert.ok(!Number.isNaN(Date.parse(info.startedAt)));
  });

  test("a stale file where the socket goes is replaced at start", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "s.sock"), "left over by a crash");
    const daemon = await startDaemon({ dir });
    assert.ok(statSync(daemon.socketPath).isSocket());
  });

  test("SIGTERM makes the supervisor exit with code 0", async () => {
    const daemon = await startDaemon();
    assert.equal(await daemon.stop(), 0);
  });
});

describe("client protocol check", () => {
  const fakeHealth = (protocolHeader: string | undefined, protocol: number): SupervisorTransport => ({
    request: async () => ({
      status: 200,
      headers: protocolHeader === undefined ? {} : { [PROTOCOL_HEADER]: protocolHeader },
      body: (async function* () {
        yield Buffer.from(JSON.stringify({ protocol, supervisorVersion: "9.0.0", pid: 2, uptimeMs: 1 }));
      })(),
      close: () => {},
    }),
  });

  test("assertCompatible refuses another protocol with SUPERVISOR_PROTOCOL_MISMATCH naming both versions", async () => {
    const client = new SupervisorClient({ transport: fakeHealth("2", 2) });
    await assert.rejects(client.assertCompatible(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "SUPERVISOR_PROTOCOL_MISMATCH");
      assert.match(error.message, /protocol 2/);
      assert.match(error.message, /protocol 1/);
      return true;
    });
  });

  test("a body claiming another protocol behind a v1 header is refused too", async () => {
    const client = new SupervisorClient({ transport: fakeHealth("1", 3) });
    await assert.rejects(client.assertCompatible(), { code: "SUPERVISOR_PROTOCOL_MISMATCH", message: /protocol 3.*protocol 1/ });
  });

  test("a peer without the protocol header is not taken for a supervisor", async () => {
    const client = new SupervisorClient({ transport: fakeHealth(undefined, 1) });
    await assert.rejects(client.health(), { code: "SUPERVISOR_PROTOCOL_MISMATCH" });
  });

  test("a socket nobody listens on is SUPERVISOR_UNAVAILABLE", async () => {
    const dir = tempDir();
    const client = new SupervisorClient({ socketPath: join(dir, "none.sock") });
    await assert.rejects(client.health(), { code: "SUPERVISOR_UNAVAILABLE" });
    rmSync(dir, { recursive: true });
  });
});
