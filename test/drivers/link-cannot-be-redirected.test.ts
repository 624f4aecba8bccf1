// The supervisor link of one sandbox cannot be bent towards another. With protocol 1 the
// control plane connected to a socket inside the sandbox's writable folders, so code in a
// sandbox could replace it with a symlink to another sandbox's socket; now the control
// plane listens, on a socket in a folder it owns that the sandbox sees read-only, and every
// hello must name the socket's own sandbox and carry its token. These tests run the real
// supervisor (dist/opt-outpost) and play the attacker from inside sandbox A.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { SandboxHandle } from "../../src/drivers/driver.ts";
import type { LocalDriver } from "../../src/drivers/local/local-driver.ts";
import { builtOutpostDir } from "../../src/drivers/local/outpost-dir.ts";
import type { LinkEvent } from "../../src/supervisor/link/registry.ts";
import { ensureOptions, execIn, hostUidOf, isRoot, shIn, specFor, testBed } from "./helpers.ts";

/** A rogue "supervisor": dials the link socket, says hello as `argv[2]` with the token
 *  `argv[3]` ("file": the one in /run/outpost/token), prints the control plane's answer
 *  line, and (with "hold") keeps the connection until the control plane closes it. */
const ROGUE = `
const net = require("net");
const fs = require("fs");
const [claimed, tokenArg, mode] = process.argv.slice(2);
const token = tokenArg === "file" ? fs.readFileSync("/run/outpost/token", "utf8").trim() : tokenArg;
const socket = net.connect("/run/outpost/link.sock");
socket.on("connect", () => {
  const hello = { sandboxId: claimed, token, protocols: [2], supervisorVersion: "rogue", capabilities: [], pid: process.pid };
  socket.write("OUTPOST-LINK " + JSON.stringify(hello) + "\\n");
});
let answer = "";
socket.on("data", (chunk) => {
  if (answer.includes("\\n")) return;
  answer += chunk.toString("latin1");
  const end = answer.indexOf("\\n");
  if (end < 0) return;
  console.log(answer.slice(0, end));
  if (mode !== "hold") socket.destroy();
});
socket.on("error", (error) => console.log("error " + error.code));
socket.on("close", () => process.exit(0));
setTimeout(() => process.exit(3), 30000).unref();
`;

interface Pair {
  driver: LocalDriver;
  root: string;
  a: SandboxHandle;
  b: SandboxHandle;
  events: LinkEvent[];
  /** Resolves with the first event (recorded from the start) that matches; bounded. */
  waitFor(match: (event: LinkEvent) => boolean, what: string): Promise<LinkEvent>;
}

async function twoSandboxes(t: Parameters<typeof testBed>[0]): Promise<Pair> {
  const { driver, root } = testBed(t, { outpostDir: builtOutpostDir() });
  const [a, b] = await Promise.all([driver.ensure(specFor("sbx-a"), ensureOptions()), driver.ensure(specFor("sbx-b"), ensureOptions())]);
  const events: LinkEvent[] = [];
  const waiters = new Set<() => void>();
  driver.onLinkEvent((event) => {
    events.push(event);
    for (const check of waiters) check();
  });
  const waitFor = (match: (event: LinkEvent) => boolean, what: string) =>
    new Promise<LinkEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`no link event '${what}' within 15 s; got ${JSON.stringify(events)}`));
      }, 15_000);
      const check = () => {
        const found = events.find(match);
        if (!found) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
  await execIn(a, ["/opt/outpost/bin/node", "-e", `require("fs").writeFileSync("/tmp/rogue.js", ${JSON.stringify(ROGUE)})`]);
  return { driver, root, a, b, events, waitFor };
}

const hostnameVia = async (driver: LocalDriver, sandboxId: string) => (await execIn(await driver.connect(sandboxId), ["hostname"])).stdout.trim();

test("inside a sandbox /run/outpost is read-only: its link socket and token cannot be replaced, moved, removed or loosened", async (t) => {
  const { root, a } = await twoSandboxes(t);
  const hostSocket = join(root, a.sandboxId, "link", "link.sock");
  const token = readFileSync(join(root, a.sandboxId, "link", "token"), "utf8");
  await shIn(a, "echo x > /tmp/f");
  for (const attack of [
    "ln -sf /anything /run/outpost/x",
    "ln -sf /tmp/f /run/outpost/link.sock",
    "mv /tmp/f /run/outpost/link.sock",
    "rm -f /run/outpost/link.sock",
    "chmod 777 /run/outpost/link.sock",
    "echo forged > /run/outpost/token",
    "rm -f /run/outpost/token",
  ]) {
    const result = await shIn(a, attack);
    assert.notEqual(result.exitCode, 0, `'${attack}' must fail`);
    // Refused by the read-only mount itself, before the folder's permissions are asked.
    assert.match(result.stderr, /Read-only file system/, attack);
  }
  assert.equal((await shIn(a, "ls -A /run/outpost")).stdout, "link.sock\ntoken\n");
  assert.ok(statSync(hostSocket).isSocket(), "the control plane's socket is still there");
  assert.equal(readFileSync(join(root, a.sandboxId, "link", "token"), "utf8"), token, "the token is unchanged");
  // (/proc/self/mountinfo inside may show the host path the folder came from: knowing it
  // gains nothing, since the sandbox can neither reach nor write anything there.)
});

test("a hello from inside sandbox A claiming to be sandbox B is refused with LINK_WRONG_SANDBOX, and both links stay where they were", async (t) => {
  const { driver, a, b, events, waitFor } = await twoSandboxes(t);

  const rogue = await execIn(a, ["/opt/outpost/bin/node", "/tmp/rogue.js", b.sandboxId, "file"]);
  assert.match(rogue.stdout, /^NO \{"code":"LINK_WRONG_SANDBOX"/, rogue.stdout + rogue.stderr);
  const refused = await waitFor((e) => e.type === "refused", "refused");
  assert.ok(refused.type === "refused");
  assert.equal(refused.sandboxId, a.sandboxId, "refused on A's socket");
  assert.equal(refused.refusal.code, "LINK_WRONG_SANDBOX");
  assert.equal(refused.refusal.claimed, b.sandboxId);

  assert.equal(await hostnameVia(driver, b.sandboxId), "sbx-b", "B's link still reaches B");
  assert.equal(await hostnameVia(driver, a.sandboxId), "sbx-a", "A's link still reaches A");
  assert.deepEqual(
    events.filter((e) => e.type !== "refused"),
    [],
    "no link came up or went down",
  );
});

test("a hello from inside sandbox A with A's id and a wrong token is refused with LINK_BAD_TOKEN", async (t) => {
  const { driver, a, events, waitFor } = await twoSandboxes(t);

  const rogue = await execIn(a, ["/opt/outpost/bin/node", "/tmp/rogue.js", a.sandboxId, "x".repeat(43)]);
  assert.match(rogue.stdout, /^NO \{"code":"LINK_BAD_TOKEN"/, rogue.stdout + rogue.stderr);
  const refused = await waitFor((e) => e.type === "refused", "refused");
  assert.ok(refused.type === "refused");
  assert.equal(refused.sandboxId, a.sandboxId);
  assert.equal(refused.refusal.code, "LINK_BAD_TOKEN");
  assert.equal(await hostnameVia(driver, a.sandboxId), "sbx-a");
  assert.deepEqual(
    events.filter((e) => e.type !== "refused"),
    [],
  );
});

test("code in sandbox A holding A's id and token can replace A's link (by design), yet never reaches B", async (t) => {
  // Accepted by design: the supervisor is inside the sandbox's trust boundary (the same
  // uid as everything the sandbox runs), so whatever runs in A may speak for A. What it
  // must not do is speak for, or reach, any other sandbox; that is what is asserted.
  const { driver, a, b, events, waitFor } = await twoSandboxes(t);

  // A background process of A's supervisor: it outlives the link it was started through,
  // which its own link replaces.
  const rogue = await a.link.client.startProcess({ command: ["/opt/outpost/bin/node", "/tmp/rogue.js", a.sandboxId, "file", "hold"], name: "rogue" });
  const rogueUp = await waitFor((e) => e.type === "up" && e.info.supervisorVersion === "rogue", "up from the rogue");
  assert.equal(rogueUp.sandboxId, a.sandboxId, "the rogue's link is A's");
  // The real supervisor, whose link was replaced, dials again and takes A's link back.
  await waitFor((e) => e.type === "up" && e.info.supervisorVersion !== "rogue" && events.indexOf(e) > events.indexOf(rogueUp), "the real supervisor back");

  assert.equal(await hostnameVia(driver, a.sandboxId), "sbx-a");
  // It exits once the control plane dropped its link: its whole output is then journaled.
  let said = "";
  for await (const line of await (await driver.connect(a.sandboxId)).client.processLogs(rogue.id, { follow: true, signal: AbortSignal.timeout(15_000) })) {
    if ("data" in line) said += Buffer.from(line.data, "base64").toString();
  }
  assert.match(said, /^OK \{"protocol":2\}/, "the control plane accepted the rogue's hello");
  assert.equal(await hostnameVia(driver, b.sandboxId), "sbx-b");
  assert.deepEqual(
    events.filter((e) => e.sandboxId === b.sandboxId),
    [],
    "nothing happened to B's link",
  );
});

test("no other host account can even connect to a sandbox's link socket", async (t) => {
  const { root, a } = await twoSandboxes(t);
  const socket = join(root, a.sandboxId, "link", "link.sock");
  const dial = (who: { uid: number; gid: number }) =>
    new Promise<string>((resolve, reject) => {
      const script = `const s = require("net").connect(${JSON.stringify(socket)}); s.on("connect", () => { console.log("connected"); s.destroy(); }); s.on("error", (e) => console.log(e.code));`;
      const child = spawn(process.execPath, ["-e", script], { uid: who.uid, gid: who.gid, cwd: "/", stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += chunk;
      });
      child.on("error", reject);
      child.on("close", () => resolve(out.trim()));
    });
  if (!isRoot) {
    // Without root every sandbox runs as this user: the folder is closed to everyone else.
    assert.equal(statSync(join(root, a.sandboxId, "link")).mode & 0o777, 0o700);
    return;
  }
  const uidA = hostUidOf(a) as number;
  const stranger = uidA === 299_997 ? 299_996 : 299_997;
  assert.equal(await dial({ uid: stranger, gid: stranger }), "EACCES", "the folder (0750 root:<A's gid>) keeps other accounts out");
  // Control: A's own account gets through (that is how its supervisor dials).
  assert.equal(await dial({ uid: uidA, gid: uidA }), "connected");
});
