import assert from "node:assert/strict";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { test } from "node:test";
import { ensureOptions, execIn, shIn, specFor, testBed } from "./helpers.ts";

/** Tries a TCP connection from inside; prints "connected" or the error code. */
const connectScript = (host: string, port: number) =>
  `const s=require("net").connect({host:${JSON.stringify(host)},port:${port},timeout:3000});` +
  `s.on("connect",()=>{console.log("connected");s.destroy()});s.on("error",e=>console.log(e.code));s.on("timeout",()=>{console.log("timeout");s.destroy()})`;

function hostCanConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: 3000 });
    socket.on("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

test("a sandbox has no network: only lo exists and the host's 127.0.0.1:5432 is unreachable", async (t) => {
  const { driver } = testBed(t);
  const spec = specFor("no-net");
  const handle = await driver.ensure(spec, ensureOptions());

  const devices = (await shIn(handle, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")).stdout.trim().split("\n");
  assert.deepEqual(devices, ["lo"]);

  if (!(await hostCanConnect(5432))) t.diagnostic("nothing listens on the host's 127.0.0.1:5432; the check below still proves the sandbox's lo is its own");
  const local = await execIn(handle, ["/opt/outpost/bin/node", "-e", connectScript("127.0.0.1", 5432)]);
  assert.equal(local.stdout.trim(), "ECONNREFUSED");

  const external = Object.values(networkInterfaces())
    .flat()
    .find((address) => address && address.family === "IPv4" && !address.internal);
  if (external) {
    const outside = await execIn(handle, ["/opt/outpost/bin/node", "-e", connectScript(external.address, 22)]);
    assert.equal(outside.stdout.trim(), "ENETUNREACH", `the host's ${external.address} has no route from inside`);
  }
  const dns = await execIn(handle, ["/opt/outpost/bin/node", "-e", connectScript("1.1.1.1", 443)]);
  assert.equal(dns.stdout.trim(), "ENETUNREACH");
});
