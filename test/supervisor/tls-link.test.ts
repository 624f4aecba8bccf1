// The supervisor link over TLS, as on Kubernetes: the real supervisor bundle
// (dist/supervisor.js, `npm run build`) dials the control plane's LinkEndpoint at
// tls://127.0.0.1:<port>, trusting only the CA it is given, and its way out (a 127.0.0.1
// port, the ssh agent's unix socket) goes through the same endpoint as bridged
// connections. The endpoint's identity comes from a real CertificateAuthority in a
// temporary folder. No bwrap: the supervisor runs as a plain child process.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect as connectTcp, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { pipeline } from "node:stream";
import { after, before, describe, test } from "node:test";
import { connect as connectTls } from "node:tls";
import { SecretBox } from "../../src/crypto/secrets.ts";
import { CertificateAuthority } from "../../src/egress/certificates.ts";
import { packageRoot } from "../../src/package-root.ts";
import { SupervisorClient } from "../../src/supervisor/client.ts";
import type { BridgeKind } from "../../src/supervisor/link/preface.ts";
import { type LinkEvent, LinkRegistry } from "../../src/supervisor/link/registry.ts";
import type { EndpointLimits } from "../../src/supervisor/link/tls-endpoint.ts";
import { LinkEndpoint } from "../../src/supervisor/link/tls-endpoint.ts";
import { execCollect, tempDir, waitUntil } from "./helpers.ts";

const BUNDLE = join(packageRoot(), "dist", "supervisor.js");

let dir: string;
let ca: CertificateAuthority;
let caFile: string;
/** A CA that has nothing to do with the endpoint's. */
let strangerCaFile: string;
const cleanups: Array<() => unknown> = [];

before(() => {
  dir = tempDir();
  ca = CertificateAuthority.loadOrCreate(join(dir, "ca"), new SecretBox(randomBytes(32)));
  caFile = join(dir, "link-ca.pem");
  writeFileSync(caFile, ca.certificatePem);
  strangerCaFile = join(dir, "stranger-ca.pem");
  writeFileSync(strangerCaFile, CertificateAuthority.loadOrCreate(join(dir, "stranger"), new SecretBox(randomBytes(32))).certificatePem);
});

after(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface Endpoint {
  port: number;
  registry: LinkRegistry;
  events: LinkEvent[];
  logs: string[];
  bridged: Array<{ kind: BridgeKind; sandboxId: string }>;
  tokenLookups: string[];
}

async function startEndpoint(options: {
  tokenFor: (sandboxId: string) => Buffer | null | Promise<Buffer | null>;
  bridge?: (kind: BridgeKind, sandboxId: string, socket: Socket) => void;
  limits?: Partial<EndpointLimits>;
}): Promise<Endpoint> {
  const registry = new LinkRegistry();
  const events: LinkEvent[] = [];
  registry.onEvent((event) => events.push(event));
  const logs: string[] = [];
  const bridged: Endpoint["bridged"] = [];
  const tokenLookups: string[] = [];
  const endpoint = new LinkEndpoint({
    host: "127.0.0.1",
    port: 0,
    contextFor: (name) => ca.contextFor(name),
    registry,
    tokenFor: (sandboxId) => {
      tokenLookups.push(sandboxId);
      return options.tokenFor(sandboxId);
    },
    bridge: (kind, sandboxId, socket) => {
      bridged.push({ kind, sandboxId });
      (options.bridge ?? ((_kind, _id, s) => s.destroy()))(kind, sandboxId, socket);
    },
    log: (message) => logs.push(message),
    limits: options.limits,
  });
  const { port } = await endpoint.listen();
  cleanups.push(async () => {
    registry.closeAll("test over");
    await endpoint.close();
  });
  return { port, registry, events, logs, bridged, tokenLookups };
}

interface Supervisor {
  sandboxId: string;
  token: string;
  child: ChildProcess;
  output: () => string;
}

/** Starts the real supervisor bundle dialling tls://127.0.0.1:<port>. */
function startSupervisor(port: number, options: { caFile?: string; bridges?: string; sandboxId?: string; token?: string } = {}): Supervisor {
  const home = tempDir();
  const sandboxId = options.sandboxId ?? `sbx_${randomBytes(6).toString("hex")}`;
  const token = options.token ?? randomBytes(32).toString("base64url");
  mkdirSync(join(home, "workspace"));
  writeFileSync(join(home, "token"), token, { mode: 0o600 });
  const args = [
    BUNDLE,
    "--link",
    `tls://127.0.0.1:${port}`,
    "--link-ca",
    options.caFile ?? caFile,
    "--token-file",
    join(home, "token"),
    "--sandbox-id",
    sandboxId,
    "--state",
    join(home, "state"),
    "--workspace",
    join(home, "workspace"),
  ];
  if (options.bridges) args.push("--bridge", options.bridges);
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let output = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, "exit");
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    rmSync(home, { recursive: true, force: true });
  });
  return { sandboxId, token, child, output: () => output };
}

function clientOf(endpoint: Endpoint, sandboxId: string): SupervisorClient {
  const session = () => {
    const current = endpoint.registry.current(sandboxId);
    if (!current) throw new Error(`no link of ${sandboxId}`);
    return current;
  };
  return new SupervisorClient({ transport: { request: (r) => session().request(r), openDuplex: (r) => session().openDuplex(r) } });
}

/** A free 127.0.0.1 port (for a bridge inside the "sandbox"). */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  assert.ok(address && typeof address === "object");
  return address.port;
}

/** What the bridged services stand for: echoes every byte and, once the client is done sending, says "bye" and ends. */
async function startEcho(): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("end", () => socket.end("bye"));
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanups.push(() => server.close());
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return address.port;
}

/** Sends `text`, half-closes, and reads everything until the far side ends. */
async function sendAndFinish(socket: Socket, text: string): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  await once(socket, "connect");
  socket.end(text);
  await once(socket, "end");
  socket.destroy();
  return Buffer.concat(chunks).toString();
}

/** One TLS connection to the endpoint that sends `line` and returns the answer's first line. */
async function rawPreface(port: number, line: string, servername?: string): Promise<string> {
  const socket = connectTls({ host: "127.0.0.1", port, ca: ca.certificatePem, ...(servername ? { servername } : {}) });
  let answer = "";
  socket.on("data", (chunk: Buffer) => {
    answer += chunk.toString();
  });
  socket.on("error", () => {});
  await once(socket, "secureConnect");
  socket.write(line);
  await once(socket, "close");
  return answer.split("\n")[0] ?? "";
}

const bridgeToEcho = (echoPort: number) => (_kind: BridgeKind, _sandboxId: string, socket: Socket) => {
  const target = connectTcp({ host: "127.0.0.1", port: echoPort, allowHalfOpen: true });
  pipeline(socket, target, () => {});
  pipeline(target, socket, () => {});
};

/** Runs the bundle with `args` (and the required ones); resolves with its exit code and stderr. */
async function runWithArgs(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const base = ["--token-file", join(dir, "no-token"), "--sandbox-id", "sbx_args", "--state", join(dir, "no-state"), "--workspace", dir];
  const child = spawn(process.execPath, [BUNDLE, ...base, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, stderr };
}

describe("supervisor link over TLS", () => {
  test("the supervisor refuses link and bridge arguments that cannot work (exit 2, with the usage)", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--link", "tls://127.0.0.1:4443"], /--link-ca is required/],
      [["--link", "tls://127.0.0.1:99999", "--link-ca", caFile], /--link wants/],
      [["--link", "/run/outpost/link.sock", "--link-ca", caFile], /--link-ca is only for a tls:\/\/ link/],
      [["--link", "/run/outpost/link.sock", "--bridge", "3128=link:proxy"], /needs a tls:\/\/ link/],
      [["--link", "tls://control.example:4443", "--link-ca", caFile, "--bridge", "3128=link:ssh-agent"], /--bridge wants/],
      [["--link", "tls://control.example:4443", "--link-ca", caFile, "--bridge", "/run/outpost/agent.sock=link:proxy"], /--bridge wants/],
      [["--link", "tls://control.example:4443", "--link-ca", caFile, "--bridge", "3128=link:kubernetes-api"], /--bridge wants/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await runWithArgs(args);
      assert.equal(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, message);
      assert.match(stderr, /usage: supervisor/);
    }
  });

  test("a supervisor dials tls://127.0.0.1 (the certificate's IP SAN), links, and answers exec", async () => {
    const tokens = new Map<string, Buffer>();
    const endpoint = await startEndpoint({ tokenFor: (id) => tokens.get(id) ?? null });
    const supervisor = startSupervisor(endpoint.port);
    tokens.set(supervisor.sandboxId, Buffer.from(supervisor.token));
    const session = await endpoint.registry.wait(supervisor.sandboxId, { timeoutMs: 30_000 });
    assert.equal(session.info.protocol, 2);
    const result = await execCollect(clientOf(endpoint, supervisor.sandboxId), { command: ["sh", "-c", "echo over tls; echo to stderr >&2"] });
    assert.equal(result.stdout, "over tls\n");
    assert.equal(result.stderr, "to stderr\n");
    assert.equal(result.exit.exitCode, 0);
  });

  test("a wrong token is refused (LINK_BAD_TOKEN); the supervisor keeps dialling and links once its token is the right one", async () => {
    let expected = Buffer.from(randomBytes(32).toString("base64url"));
    const endpoint = await startEndpoint({ tokenFor: () => expected });
    const refused = new Promise<string>((resolve) => endpoint.registry.onEvent((event) => event.type === "refused" && resolve(event.refusal.code)));
    const supervisor = startSupervisor(endpoint.port);
    assert.equal(await refused, "LINK_BAD_TOKEN");
    assert.equal(endpoint.registry.current(supervisor.sandboxId), undefined);
    await waitUntil("the supervisor logs the refusal", () => supervisor.output().includes("LINK_BAD_TOKEN"));
    expected = Buffer.from(supervisor.token);
    await endpoint.registry.wait(supervisor.sandboxId, { timeoutMs: 30_000 });
    const result = await execCollect(clientOf(endpoint, supervisor.sandboxId), { command: ["echo", "let in"] });
    assert.equal(result.stdout, "let in\n");
  });

  test("a supervisor given another CA refuses the endpoint: no link, its token never sent, and its log says why", async () => {
    const endpoint = await startEndpoint({ tokenFor: () => Buffer.from("x".repeat(43)) });
    const supervisor = startSupervisor(endpoint.port, { caFile: strangerCaFile });
    await waitUntil("the supervisor logs that it cannot link", () => /cannot link to the control plane: .*certificate/i.test(supervisor.output()));
    assert.equal(endpoint.registry.current(supervisor.sandboxId), undefined);
    assert.deepEqual(endpoint.tokenLookups, [], "the endpoint never read a hello");
    assert.ok(!endpoint.events.some((event) => event.type === "up"));
  });

  test("bridges: a 127.0.0.1 port and the ssh agent's unix socket reach the control plane's side through the endpoint, both ways, with half-close", async () => {
    const echoPort = await startEcho();
    const tokens = new Map<string, Buffer>();
    const endpoint = await startEndpoint({ tokenFor: (id) => tokens.get(id) ?? null, bridge: bridgeToEcho(echoPort) });
    const proxyPort = await freePort();
    const agentSocket = join(tempDir(), "agent.sock");
    const sandboxId = `sbx_${randomBytes(6).toString("hex")}`;
    const token = randomBytes(32).toString("base64url");
    tokens.set(sandboxId, Buffer.from(token));
    const supervisor = startSupervisor(endpoint.port, { sandboxId, token, bridges: `${proxyPort}=link:proxy,${agentSocket}=link:ssh-agent` });
    await endpoint.registry.wait(sandboxId, { timeoutMs: 30_000 });
    await waitUntil("both bridges listen", () => supervisor.output().includes(`127.0.0.1:${proxyPort}`) && supervisor.output().includes(agentSocket));

    assert.equal(
      await sendAndFinish(connectTcp({ host: "127.0.0.1", port: proxyPort, allowHalfOpen: true }), "GET / HTTP/1.1\r\n\r\n"),
      "GET / HTTP/1.1\r\n\r\nbye",
    );
    const big = randomBytes(3 * 1024 * 1024).toString("base64");
    assert.equal(await sendAndFinish(connectTcp({ host: "127.0.0.1", port: proxyPort, allowHalfOpen: true }), big), `${big}bye`);
    assert.equal(statSync(agentSocket).mode & 0o777, 0o666);
    assert.equal(await sendAndFinish(connectTcp({ path: agentSocket, allowHalfOpen: true }), "agent request"), "agent requestbye");
    assert.deepEqual(
      endpoint.bridged.map((b) => `${b.kind} ${b.sandboxId}`),
      [`proxy ${sandboxId}`, `proxy ${sandboxId}`, `ssh-agent ${sandboxId}`],
    );
  });

  test("a bridge line with a wrong token, an unknown sandbox or an unknown kind is refused and reaches no service", async () => {
    const token = randomBytes(32).toString("base64url");
    const endpoint = await startEndpoint({ tokenFor: (id) => (id === "sbx_known" ? Buffer.from(token) : null) });
    const bridgeLine = (fields: Record<string, unknown>) => `OUTPOST-BRIDGE ${JSON.stringify({ sandboxId: "sbx_known", token, kind: "proxy", ...fields })}\n`;
    assert.match(await rawPreface(endpoint.port, bridgeLine({ token: "w".repeat(43) })), /^NO \{"code":"LINK_BAD_TOKEN"/);
    assert.match(await rawPreface(endpoint.port, bridgeLine({ sandboxId: "sbx_other" })), /^NO \{"code":"LINK_WRONG_SANDBOX"/);
    assert.match(await rawPreface(endpoint.port, bridgeLine({ kind: "kubernetes-api" })), /^NO \{"code":"LINK_BAD_HELLO"/);
    assert.match(await rawPreface(endpoint.port, "GET / HTTP/1.1\r\n\r\n"), /^NO \{"code":"LINK_BAD_HELLO"/);
    assert.deepEqual(endpoint.bridged, []);
    // The right token is let through (and the endpoint presents a DNS name too, through SNI).
    const socket = connectTls({ host: "127.0.0.1", port: endpoint.port, servername: "localhost", ca: ca.certificatePem });
    await once(socket, "secureConnect");
    socket.write(bridgeLine({}));
    const [answer] = (await once(socket, "data")) as [Buffer];
    assert.equal(answer.toString(), "OK {}\n");
    socket.destroy();
    assert.deepEqual(endpoint.bridged, [{ kind: "proxy", sandboxId: "sbx_known" }]);
  });

  test("a token lookup that throws or hangs refuses the connection instead of holding it", async () => {
    let lookup: () => Promise<Buffer | null> = () => Promise.reject(new Error("store down"));
    const endpoint = await startEndpoint({ tokenFor: () => lookup(), limits: { tokenTimeoutMs: 200 } });
    const line = `OUTPOST-BRIDGE ${JSON.stringify({ sandboxId: "sbx_a", token: "t".repeat(43), kind: "proxy" })}\n`;
    assert.match(await rawPreface(endpoint.port, line), /^NO \{"code":"LINK_UNAVAILABLE"/);
    lookup = () => new Promise(() => {});
    assert.match(await rawPreface(endpoint.port, line), /^NO \{"code":"LINK_UNAVAILABLE"/);
    assert.ok(endpoint.logs.some((message) => message.includes("store down")));
  });

  test("a TLS 1.2 client is dropped before it can send a preface", async () => {
    const endpoint = await startEndpoint({ tokenFor: () => Buffer.from("t".repeat(43)) });
    const old = connectTls({ host: "127.0.0.1", port: endpoint.port, ca: ca.certificatePem, maxVersion: "TLSv1.2" });
    const closed = new Promise((resolve) => old.once("close", resolve));
    let failure: Error | undefined;
    old.on("error", (error) => {
      failure = error;
    });
    let answer = "";
    old.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
    });
    old.write(`OUTPOST-BRIDGE ${JSON.stringify({ sandboxId: "sbx_a", token: "t".repeat(43), kind: "proxy" })}\n`);
    await closed;
    assert.equal(answer, "");
    assert.ok(failure, "the handshake did not complete");
    assert.deepEqual(endpoint.tokenLookups, []);
  });

  test("a peer that connects and says nothing is dropped after the deadline, with or without TLS", async () => {
    const endpoint = await startEndpoint({ tokenFor: () => null, limits: { prefaceTimeoutMs: 300 } });
    const silentTcp = connectTcp({ host: "127.0.0.1", port: endpoint.port });
    silentTcp.on("error", () => {});
    const silentTls = connectTls({ host: "127.0.0.1", port: endpoint.port, ca: ca.certificatePem });
    let answer = "";
    silentTls.on("data", (chunk: Buffer) => {
      answer += chunk.toString();
    });
    await Promise.all([once(silentTcp, "close"), once(silentTls, "close")]);
    assert.match(answer, /^NO \{"code":"LINK_HELLO_TIMEOUT"/);
  });

  test("300 idle connections from one address, and a full overall cap from others, leave room only where the caps say", async () => {
    const tokens = new Map<string, Buffer>();
    const endpoint = await startEndpoint({
      tokenFor: (id) => tokens.get(id) ?? null,
      limits: { prefaceTimeoutMs: 120_000, maxUnverifiedPerAddress: 4, maxUnverified: 16 },
    });
    const idle = (from: string): { socket: Socket; closed: Promise<unknown> } => {
      const socket = connectTcp({ host: "127.0.0.1", port: endpoint.port, localAddress: from });
      socket.on("error", () => {});
      cleanups.push(() => socket.destroy());
      return { socket, closed: once(socket, "close") };
    };
    const flood = Array.from({ length: 300 }, () => idle("127.0.0.2"));
    // All but the per-address cap are dropped at once; the 4 admitted stay open.
    let dropped = 0;
    for (const { closed } of flood) void closed.then(() => dropped++);
    await waitUntil("296 of the flood are dropped", () => dropped === 296);

    const supervisor = startSupervisor(endpoint.port);
    tokens.set(supervisor.sandboxId, Buffer.from(supervisor.token));
    await endpoint.registry.wait(supervisor.sandboxId, { timeoutMs: 30_000 });
    assert.equal((await execCollect(clientOf(endpoint, supervisor.sandboxId), { command: ["echo", "still here"] })).stdout, "still here\n");
    assert.equal(dropped, 296, "the admitted four stay open until their deadline");

    // Three more addresses fill the overall cap of 16; the next connection, from anywhere, is dropped.
    const others = ["127.0.0.3", "127.0.0.4", "127.0.0.5"].flatMap((from) => Array.from({ length: 4 }, () => idle(from)));
    await waitUntil("the others are accepted", () => others.every(({ socket }) => !socket.connecting));
    const late = idle("127.0.0.6");
    await late.closed;
    let othersClosed = 0;
    for (const { closed } of others) void closed.then(() => othersClosed++);
    // The established link does not count against the unverified caps, and keeps working.
    assert.equal((await execCollect(clientOf(endpoint, supervisor.sandboxId), { command: ["echo", "linked"] })).stdout, "linked\n");
    assert.equal(othersClosed, 0);
  });
});
