// The daemon's contract with the local driver: health, the protocol header, the socket's
// mode, supervisor.json, a stale socket, SIGTERM → exit 0; and the client's protocol check.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { SupervisorTransport } from "../../src/supervisor/client-transport.ts";
import { PROTOCOL_HEADER } from "../../src/supervisor/protocol.ts";
import { rawRequest, startDaemon, stopAllDaemons, tempDir } from "./helpers.ts";

after(stopAllDaemons);

describe("supervisor health and start-up", () => {
  test("health answers with protocol 2, the supervisor's version, its pid and its uptime", async () => {
    const daemon = await startDaemon();
    const health = await daemon.client.health();
    assert.equal(health.protocol, 2);
    assert.match(health.supervisorVersion, /^\d+\.\d+\.\d+/);
    assert.equal(health.pid, daemon.pid);
    assert.ok(health.uptimeMs >= 0);
    await daemon.client.assertCompatible();
  });

  test("the hello names the sandbox, the protocols and the pid", async () => {
    const daemon = await startDaemon();
    const { info } = daemon.session();
    assert.equal(info.sandboxId, daemon.sandboxId);
    assert.equal(info.protocol, 2);
    assert.equal(info.pid, daemon.pid);
    assert.ok(info.capabilities.includes("pty") && info.capabilities.includes("tunnel"));
  });

  test("every response carries the protocol header, errors included", async () => {
    const daemon = await startDaemon();
    const ok = await rawRequest(daemon, { method: "GET", path: "/v1/health" });
    const missing = await rawRequest(daemon, { method: "GET", path: "/v2/nothing" });
    assert.equal(ok.headers[PROTOCOL_HEADER], "2");
    assert.equal(missing.status, 404);
    assert.equal(missing.headers[PROTOCOL_HEADER], "2");
  });

  test("supervisor.json records the protocols, pid and start time", async () => {
    const daemon = await startDaemon();
    const info = JSON.parse(readFileSync(join(daemon.stateDir, "supervisor.json"), "utf8"));
    assert.deepEqual(info.protocols, [2]);
    assert.equal(info.pid, daemon.pid);
    assert.ok(!Number.isNaN(Date.parse(info.startedAt)));
  });

  test("a dropped link is dialled again, and the new link serves the same supervisor", async () => {
    const daemon = await startDaemon();
    const first = daemon.session();
    const back = new Promise<void>((resolve) => {
      const off = daemon.registry.onEvent((event) => {
        if (event.type === "up") {
          off();
          resolve();
        }
      });
    });
    first.close("test drops the link");
    await back;
    assert.notEqual(daemon.session(), first);
    assert.equal((await daemon.client.health()).pid, daemon.pid);
  });

  test("a control plane that refuses the hello is told why, and the supervisor keeps running", async () => {
    const dir = tempDir();
    const daemon = await startDaemon({ dir });
    const refused = new Promise<string>((resolve) => daemon.registry.onEvent((event) => event.type === "refused" && resolve(event.refusal.code)));
    writeFileSync(join(dir, "token"), "another-token-the-control-plane-does-not-know");
    daemon.session().close("test drops the link");
    assert.equal(await refused, "LINK_BAD_TOKEN");
    assert.equal(daemon.child.exitCode, null);
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

  test("assertCompatible refuses a protocol this control plane does not speak, naming both", async () => {
    const client = new SupervisorClient({ transport: fakeHealth("2", 7) });
    await assert.rejects(client.assertCompatible(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "SUPERVISOR_PROTOCOL_MISMATCH");
      assert.match(error.message, /protocol 7/);
      assert.match(error.message, /protocol 2/);
      return true;
    });
  });

  test("an answer behind another protocol's header is refused", async () => {
    const client = new SupervisorClient({ transport: fakeHealth("1", 2) });
    await assert.rejects(client.health(), { code: "SUPERVISOR_PROTOCOL_MISMATCH", message: /protocol 1.*protocol 2/ });
  });

  test("a peer without the protocol header is not taken for a supervisor", async () => {
    const client = new SupervisorClient({ transport: fakeHealth(undefined, 2) });
    await assert.rejects(client.health(), { code: "SUPERVISOR_PROTOCOL_MISMATCH" });
  });

  test("a supervisor that never answers costs SUPERVISOR_TIMEOUT, not a hung call", async () => {
    const silent: SupervisorTransport = {
      request: ({ signal }) => new Promise((_resolve, reject) => signal?.addEventListener("abort", () => reject(signal.reason), { once: true })),
    };
    const client = new SupervisorClient({ transport: silent, answerTimeoutMs: 50 });
    await assert.rejects(client.health(), { code: "SUPERVISOR_TIMEOUT" });
    await assert.rejects(client.exec({ command: "true" }), { code: "SUPERVISOR_TIMEOUT" });
  });
});
