// A hostile pod on Kubernetes: code in sandbox A holds A's token (it is inside A's trust
// boundary) and can reach the control plane's link endpoint. With them it cannot take over
// sandbox B's link, open B's way out, or make the endpoint sign certificates for names of
// its choosing; B keeps working, and the refusal is an event.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EnsureOptions } from "../../../src/drivers/driver.ts";
import type { LinkEvent } from "../../../src/supervisor/link/registry.ts";
import { shIn } from "../helpers.ts";
import { testCluster } from "./cluster.ts";

const ensureOptions = (): EnsureOptions => ({ onStage: () => {}, signal: AbortSignal.timeout(90_000) });

/** A Node script run inside sandbox A: dial the link endpoint over TLS (trusting nothing:
 *  an attacker would not check), send one preface line, print the answer line and the
 *  certificate's names. */
function dialScript(port: number, servername: string, line: string): string {
  return `
const tls = require("node:tls");
const socket = tls.connect({ host: "127.0.0.1", port: ${port}, servername: ${JSON.stringify(servername)}, rejectUnauthorized: false, ALPNProtocols: ["outpost-link"], minVersion: "TLSv1.3" }, () => {
  const cert = socket.getPeerCertificate();
  process.stdout.write("names " + (cert.subjectaltname || "") + "\\n");
  socket.write(${JSON.stringify(`${line}\n`)});
});
let answer = "";
socket.on("data", (chunk) => { answer += chunk; if (answer.includes("\\n")) { process.stdout.write(answer.split("\\n")[0] + "\\n"); socket.destroy(); } });
socket.on("error", (error) => { process.stdout.write("error " + error.message + "\\n"); });
socket.on("close", () => { if (!answer) process.stdout.write("closed\\n"); });
`;
}

test("sandbox A's token opens neither B's link nor B's way out; the endpoint signs only its own name", async (t) => {
  const cluster = await testCluster(t);
  const driver = cluster.makeDriver();
  await driver.start();
  const port = driver.linkPort;
  assert.ok(port, "the link endpoint listens");
  const a = await driver.ensure({ sandboxId: `sbx_a${process.pid}`, name: "attacker" }, ensureOptions());
  const b = await driver.ensure({ sandboxId: `sbx_b${process.pid}`, name: "victim" }, ensureOptions());
  const refusals: LinkEvent[] = [];
  t.after(driver.onLinkEvent((event) => event.type === "refused" && refusals.push(event)));

  const run = async (servername: string, line: string) => {
    await shIn(a, `cat > /tmp/dial.js <<'EOF'\n${dialScript(port, servername, line)}\nEOF`);
    return (await shIn(a, "/opt/outpost/bin/node /tmp/dial.js")).stdout;
  };
  const token = (await shIn(a, "cat /run/outpost-token/token")).stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, "A can read its own token (it is A's to use)");

  const hello = (sandboxId: string) =>
    `OUTPOST-LINK ${JSON.stringify({ sandboxId, token, protocols: [2], supervisorVersion: "0.1.0", capabilities: [], pid: 2 })}`;
  const asB = await run("127.0.0.1", hello(b.sandboxId));
  assert.match(asB, /^NO .*LINK_BAD_TOKEN/m, asB);
  assert.ok(
    refusals.some((event) => event.type === "refused" && event.sandboxId === b.sandboxId && event.refusal.code === "LINK_BAD_TOKEN"),
    "the refusal is an event",
  );

  const bridgeAsB = await run("127.0.0.1", `OUTPOST-BRIDGE ${JSON.stringify({ sandboxId: b.sandboxId, token, kind: "proxy" })}`);
  assert.match(bridgeAsB, /^NO .*LINK_BAD_TOKEN/m, bridgeAsB);

  const unknown = await run("127.0.0.1", hello("sbx_not_here"));
  assert.match(unknown, /^NO /m, unknown);

  // Whatever name it asks for, it gets the link's own certificate.
  const asked = await run("api.github.com", hello(b.sandboxId));
  assert.match(asked, /^names IP Address:127\.0\.0\.1$/m, asked);
  assert.doesNotMatch(asked, /github/);

  assert.equal((await shIn(b, "echo still mine")).stdout, "still mine\n", "B's link was not taken over");
  assert.equal((await driver.connect(b.sandboxId)).info.sandboxId, b.sandboxId);
});
