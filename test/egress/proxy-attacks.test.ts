// The host side of a sandbox's way out, attacked as a hostile sandbox would: the egress
// proxy and the model gateway built directly (no control plane, no bwrap), fed real
// connections through a unix socket the way a sandbox's supervisor pipes them in. Every
// name resolves through a stub (no real DNS), and every upstream is a test server on
// 127.0.0.1. Each case checks what the sandbox is told, that nothing was resolved or
// dialled that should not be, and that the next ordinary request still works.
import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingHttpHeaders, request, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { type AddressInfo, connect, createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { SecretBox } from "../../src/crypto/secrets.ts";
import type { Credential } from "../../src/domain/credentials.ts";
import type { EgressPolicy } from "../../src/domain/egress-policy.ts";
import { CertificateAuthority } from "../../src/egress/certificates.ts";
import type { LookupAll } from "../../src/egress/dial.ts";
import { ModelGateway } from "../../src/egress/gateway.ts";
import { EgressProxy, type EgressProxyDeps } from "../../src/egress/proxy.ts";
import type { SandboxEgress, UsageRecord } from "../../src/services/egress.ts";
import { type ModelApiStub, startModelApiStub } from "../helpers/model-api-stub.ts";
import { makeTestCa } from "../helpers/test-ca.ts";

const SECRET = "sk-live-the-real-secret-value-0123456789";
const PLACEHOLDER = `sk-outpost-placeholder-${"ab".repeat(16)}`;
const API_KEY: Credential = {
  name: "API_KEY",
  value: SECRET,
  placeholder: PLACEHOLDER,
  inject: [{ host: "api.example.com", header: "authorization", format: "bearer" }],
};
const ANTHROPIC_KEY: Credential = {
  name: "ANTHROPIC_API_KEY",
  value: "sk-ant-real-gateway-key",
  placeholder: `sk-ant-outpost-placeholder-${"cd".repeat(16)}`,
  inject: [{ host: "api.anthropic.com", header: "x-api-key", format: "raw" }],
};

/** What the stub resolver answers; a name missing here does not resolve. All answers are loopback. */
const DNS: Record<string, string> = {
  "ok.example": "127.0.0.1",
  "api.example.com": "127.0.0.1",
  "other.example": "127.0.0.1",
  "rebind.example": "127.0.0.1",
  "denied.example": "127.0.0.1",
};

function sandbox(id: string, projectName: string, policy: EgressPolicy, credentials: Credential[] = []): SandboxEgress {
  return {
    sandboxId: id,
    sandboxName: `${id}-name`,
    projectId: `prj-${id}`,
    projectName,
    ownerId: "usr-owner",
    policy,
    tokenBudget: null,
    credentials,
    repoUrl: null,
    git: {},
    hasDeployKey: false,
  };
}

// Loopback names need an allow rule naming them exactly; these are the ones each project has.
const SANDBOXES: Record<string, SandboxEgress> = {
  open: sandbox("open", "webapp", { level: "open", allow: [{ host: "ok.example" }, { host: "api.example.com" }, { host: "other.example" }], deny: [] }, [
    API_KEY,
    ANTHROPIC_KEY,
  ]),
  custom: sandbox("custom", "locked", { level: "custom", allow: [{ host: "ok.example" }], deny: [] }),
  rebindAllowed: sandbox("rebindAllowed", "rebinder", { level: "open", allow: [{ host: "ok.example" }, { host: "rebind.example" }], deny: [] }),
  /** A project with a token budget whose usage store fails (see the gateway's tokensThisMonth). */
  budgeted: { ...sandbox("budgeted", "metered", { level: "none", allow: [], deny: [] }, [ANTHROPIC_KEY]), tokenBudget: 1000 },
};

interface Seen {
  url: string;
  headers: IncomingHttpHeaders;
}

describe("egress proxy and model gateway under attack from a sandbox", () => {
  const dir = mkdtempSync(join(tmpdir(), "outpost-attacks-"));
  const testCa = makeTestCa();
  const decisions: any[] = [];
  const lookups: string[] = [];
  const logs: string[] = [];
  const clients = new Set<Socket>();
  const servers: (Server | NetServer)[] = [];
  /** Requests and raw connections the 127.0.0.1 upstreams received. */
  const plainSeen: Seen[] = [];
  const tlsSeen: Seen[] = [];
  let upstreamConnections = 0;
  let httpPort: number;
  let tlsPort: number;
  let tlsLeaf: string;
  let installationCa: CertificateAuthority;
  let proxy: EgressProxy;
  let gateway: ModelGateway;
  let stub: ModelApiStub;
  const proxies: EgressProxy[] = [];
  const gateways: ModelGateway[] = [];

  const lookup: LookupAll = async (host) => {
    lookups.push(host);
    const address = DNS[host];
    if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return [{ address, family: 4 }];
  };

  function proxyDeps(extra: Partial<EgressProxyDeps> = {}): EgressProxyDeps {
    return {
      context: async (id) => SANDBOXES[id] ?? null,
      recorder: {
        record: (decision: unknown) => {
          decisions.push(decision);
          return { end() {} };
        },
      } as unknown as EgressProxyDeps["recorder"],
      ca: installationCa,
      upstreamCa: [testCa.caPem],
      lookup,
      log: (message) => logs.push(message),
      ...extra,
    };
  }

  function newGateway(timeouts?: { headersMs?: number }): ModelGateway {
    const gw = new ModelGateway({
      context: async (id) => SANDBOXES[id] ?? null,
      upstreams: {
        anthropic: { baseUrl: stub.url, credentialHost: "api.anthropic.com" },
        openai: { baseUrl: stub.url, credentialHost: "api.openai.com" },
        gemini: { baseUrl: stub.url, credentialHost: "generativelanguage.googleapis.com" },
      },
      tokensThisMonth: async (projectId) => {
        if (projectId === SANDBOXES.budgeted?.projectId) throw new Error("the usage store is unreachable");
        return 0;
      },
      recordUsage: async (_record: UsageRecord) => {},
      log: (message) => logs.push(message),
      timeouts,
    });
    gateways.push(gw);
    return gw;
  }

  /** A unix socket that hands each connection to `accept` as sandbox `id`'s, as the supervisor's pipe does. */
  async function socketFor(accept: (id: string, socket: Socket) => void, id: string): Promise<string> {
    const path = join(dir, `${servers.length}.sock`);
    const server = createNetServer((socket) => accept(id, socket));
    servers.push(server);
    server.listen(path);
    await once(server, "listening");
    return path;
  }

  const paths: Record<string, string> = {};
  const proxyPath = (id: string) => paths[`proxy:${id}`] as string;
  const gatewayPath = (id: string) => paths[`gateway:${id}`] as string;

  function open(path: string): Socket {
    const socket = connect(path);
    clients.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => clients.delete(socket));
    return socket;
  }

  /** Writes `bytes` as the sandbox and reads everything until the other side closes. */
  async function exchange(path: string, bytes: string | Buffer): Promise<{ status: number | null; text: string }> {
    const socket = open(path);
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.write(bytes);
    await once(socket, "close");
    const text = Buffer.concat(chunks).toString("latin1");
    const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
    return { status: status ? Number(status) : null, text };
  }

  /** An ordinary HTTP request through `path` (a proxy's or the gateway's socket). */
  async function httpVia(
    path: string,
    target: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
    const req = request({ createConnection: () => open(path), path: target, method: options.method ?? "GET", headers: options.headers });
    req.end(options.body);
    const [res] = (await once(req, "response")) as [import("node:http").IncomingMessage];
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") };
  }

  /** CONNECT as the sandbox; resolves with the status line's code and the socket (tunnel when 200). */
  async function connectVia(path: string, authority: string): Promise<{ status: number; head: string; socket: Socket }> {
    const socket = open(path);
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n\r\n`);
    let received = Buffer.alloc(0);
    for (;;) {
      const [chunk] = (await once(socket, "data")) as [Buffer];
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf("\r\n\r\n");
      if (end !== -1) {
        socket.pause();
        const rest = received.subarray(end + 4);
        if (rest.length) socket.unshift(rest);
        const head = received.subarray(0, end).toString("latin1");
        return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]), head, socket };
      }
    }
  }

  /** The control plane still serves: an allowed plain-HTTP request gets the upstream's answer. */
  async function assertStillServing(): Promise<void> {
    const res = await httpVia(proxyPath("open"), `http://ok.example:${httpPort}/still-alive`);
    assert.equal(res.status, 200);
    assert.equal(res.body, "plain upstream: GET /still-alive\n");
  }

  /** Runs `attack` and asserts that nothing was resolved, recorded or dialled meanwhile. */
  async function withoutSideEffects<T>(attack: () => Promise<T>): Promise<T> {
    const before = { lookups: lookups.length, decisions: decisions.length, connections: upstreamConnections, seen: plainSeen.length };
    const result = await attack();
    assert.deepEqual(lookups.slice(before.lookups), [], `nothing was resolved: ${JSON.stringify(result)}`);
    assert.deepEqual(decisions.slice(before.decisions), [], "nothing was recorded as a connection");
    assert.equal(upstreamConnections, before.connections, "nothing was dialled");
    assert.equal(plainSeen.length, before.seen, "nothing was forwarded");
    return result;
  }

  before(async () => {
    installationCa = CertificateAuthority.loadOrCreate(join(dir, "ca"), new SecretBox(randomBytes(32)));
    const plain = createHttpServer((req, res) => {
      plainSeen.push({ url: req.url ?? "", headers: req.headers });
      req.resume();
      req.on("end", () => res.end(`plain upstream: ${req.method} ${req.url}\n`));
    });
    const leaf = testCa.issue(["other.example", "api.example.com"]);
    tlsLeaf = leaf.cert;
    const secure = createHttpsServer(leaf, (req, res) => {
      tlsSeen.push({ url: req.url ?? "", headers: req.headers });
      res.end(`tls upstream: ${req.url}\n`);
    });
    for (const server of [plain, secure]) {
      server.on("connection", () => upstreamConnections++);
      servers.push(server);
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
    }
    httpPort = (plain.address() as AddressInfo).port;
    tlsPort = (secure.address() as AddressInfo).port;
    stub = await startModelApiStub();

    proxy = new EgressProxy(proxyDeps());
    proxies.push(proxy);
    gateway = newGateway();
    for (const id of [...Object.keys(SANDBOXES), "gone"]) {
      paths[`proxy:${id}`] = await socketFor((sandboxId, socket) => proxy.accept(sandboxId, socket), id);
      paths[`gateway:${id}`] = await socketFor((sandboxId, socket) => gateway.accept(sandboxId, socket), id);
    }
  });

  after(async () => {
    for (const socket of clients) socket.destroy();
    for (const p of proxies) p.close();
    for (const g of gateways) g.close();
    for (const server of servers) {
      if ("closeAllConnections" in server) server.closeAllConnections();
      server.close();
    }
    await stub?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("garbage and a non-HTTP preface get a 400 or a closed connection, and nothing else happens", async () => {
    for (const bytes of [
      randomBytes(512),
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 TLS ClientHello sent to a plain proxy port\r\n\r\n",
      "SSH-2.0-OpenSSH_9.6\r\n",
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
      "GET http://ok.example/ HTTP/9.9\r\n\r\n",
    ]) {
      const { status } = await withoutSideEffects(() => exchange(proxyPath("open"), bytes));
      assert.ok(status === null || status === 400, `answered ${status} to ${JSON.stringify(bytes.toString().slice(0, 20))}`);
    }
    await assertStillServing();
  });

  test("a header block over 16 KiB is refused with 431 and the connection closed", async () => {
    const huge = `GET http://ok.example:${httpPort}/ HTTP/1.1\r\nhost: ok.example\r\nx-filler: ${"a".repeat(20 * 1024)}\r\n\r\n`;
    const { status } = await withoutSideEffects(() => exchange(proxyPath("open"), huge));
    assert.equal(status, 431);
    const hugeConnect = `CONNECT ok.example:${httpPort} HTTP/1.1\r\n${"x-filler: b\r\n".repeat(2000)}\r\n`;
    const connectAnswer = await withoutSideEffects(() => exchange(proxyPath("open"), hugeConnect));
    assert.equal(connectAnswer.status, 431);
    await assertStillServing();
  });

  test("a CONNECT to a malformed authority is a 400 and nothing is resolved or dialled", async () => {
    for (const authority of [
      "evil.com",
      "evil.com:0",
      "evil.com:99999",
      "a@b:80",
      "[::1",
      "host:80/path",
      `${"a".repeat(300)}.com:443`,
      // Shapes the authority pattern lets through but that name no host: they must not reach
      // the policy (whose refusal would suggest an `--allow` the CLI itself rejects).
      "a..b:443",
      "..:80",
      "1.2.3.4.5:80",
      "[1:2]:80",
    ]) {
      const { status, text } = await withoutSideEffects(() => exchange(proxyPath("open"), `CONNECT ${authority} HTTP/1.1\r\nhost: x\r\n\r\n`));
      assert.equal(status, 400, `${authority}: ${text}`);
    }
    await assertStillServing();
  });

  test("an https:// or ftp:// absolute URL, or an origin-form request, gets a 400 that says how to use the proxy", async () => {
    for (const target of ["https://ok.example/", "ftp://ok.example/file", "/", "*"]) {
      const res = await withoutSideEffects(() => httpVia(proxyPath("open"), target, { method: target === "*" ? "OPTIONS" : "GET" }));
      assert.equal(res.status, 400, `${target}: ${res.body}`);
      assert.equal(res.body, "Outpost egress proxy: send absolute http:// URLs here (HTTP_PROXY), or CONNECT host:port for anything else.\n");
    }
    // Port 0 parses as a URL but is no port: refused before anything is resolved.
    const portZero = await withoutSideEffects(() => httpVia(proxyPath("open"), "http://ok.example:0/"));
    assert.equal(portZero.status, 400, portZero.body);
    await assertStillServing();
  });

  test("a denied CONNECT answers 403 naming the host and the command to allow it, and closes: nothing is tunnelled", async () => {
    const { status, head, socket } = await connectVia(proxyPath("custom"), `denied.example:${httpPort}`);
    assert.equal(status, 403);
    assert.match(head, /x-outpost-egress: denied/);
    const rest: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => rest.push(chunk));
    socket.resume();
    // The sandbox carries on as if the tunnel were open.
    socket.write(`GET /smuggled-through-a-refused-tunnel HTTP/1.1\r\nhost: denied.example\r\n\r\n`);
    await once(socket, "close");
    const body = Buffer.concat(rest).toString("utf8");
    assert.equal(
      body,
      `Outpost egress proxy: denied.example:${httpPort} refused for project locked: denied.example:${httpPort} is not in the project's allow list. ` +
        `To allow it: outpost project update locked --allow denied.example:${httpPort}\n`,
    );
    assert.ok(!plainSeen.some((r) => r.url.includes("smuggled")), "bytes after the refusal reached the upstream");
    assert.ok(!lookups.includes("denied.example"), "a refused host is not even resolved");
    const recorded = decisions.filter((d) => d.host === "denied.example");
    assert.deepEqual(
      recorded.map((d) => [d.allowed, d.method, d.rule]),
      [[false, "CONNECT", "level custom"]],
    );
    await assertStillServing();
  });

  test("DNS rebinding: a name that resolves to 127.0.0.1 is refused even at level open; a rule naming it exactly lets it through", async () => {
    const refused = await httpVia(proxyPath("open"), `http://rebind.example:${httpPort}/rebound`);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /rebind\.example resolves to 127\.0\.0\.1 \(loopback\); non-public addresses need an allow rule naming this host exactly/);
    assert.match(refused.body, /outpost project update webapp --allow rebind\.example:\d+/);
    const tunnel = await connectVia(proxyPath("open"), `rebind.example:${httpPort}`);
    assert.equal(tunnel.status, 403);
    assert.ok(!plainSeen.some((r) => r.url === "/rebound"), "the rebound name reached the loopback server");

    const allowed = await httpVia(proxyPath("rebindAllowed"), `http://rebind.example:${httpPort}/named-exactly`);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.body, "plain upstream: GET /named-exactly\n");
    const last = decisions.at(-1);
    assert.deepEqual([last.host, last.allowed, last.rule, last.address], ["rebind.example", true, "allow rebind.example", "127.0.0.1"]);
  });

  test("a name the proxy cannot resolve gets a one-line 502", async () => {
    const res = await httpVia(proxyPath("open"), "http://nowhere.example/");
    assert.equal(res.status, 502);
    assert.equal(res.body, "Outpost egress proxy: cannot reach nowhere.example:80: cannot resolve nowhere.example (ENOTFOUND)\n");
    const tunnel = await connectVia(proxyPath("open"), "nowhere.example:443");
    assert.equal(tunnel.status, 502);
    await assertStillServing();
  });

  test("credentials: another host's tunnel is untouched and never sees the credential", async () => {
    const { status, socket } = await connectVia(proxyPath("open"), `other.example:${tlsPort}`);
    assert.equal(status, 200);
    // Only the test server's own CA is trusted here: the handshake succeeds only if the
    // proxy did not put the installation CA's leaf in the way.
    const tls = tlsConnect({ socket, servername: "other.example", ca: testCa.caPem });
    tls.on("error", () => {});
    await once(tls, "secureConnect");
    const presented = tls.getPeerX509Certificate();
    assert.equal(presented?.fingerprint256, new X509Certificate(tlsLeaf).fingerprint256);
    assert.ok(!presented?.checkIssued(new X509Certificate(installationCa.certificatePem)));

    const before = tlsSeen.length;
    tls.write(`GET /with-placeholder HTTP/1.1\r\nhost: other.example\r\nauthorization: Bearer ${PLACEHOLDER}\r\n\r\n`);
    tls.write("GET /without-header HTTP/1.1\r\nhost: other.example\r\nconnection: close\r\n\r\n");
    tls.resume();
    await once(tls, "close");
    const seen = tlsSeen.slice(before);
    assert.deepEqual(
      seen.map((r) => [r.url, r.headers.authorization]),
      [
        ["/with-placeholder", `Bearer ${PLACEHOLDER}`],
        ["/without-header", undefined],
      ],
    );
    assert.ok(!JSON.stringify(seen).includes(SECRET));
  });

  test("credentials: the credential's own host over plain HTTP gets no credential (clear text goes only to host.outpost.internal)", async () => {
    const before = plainSeen.length;
    const bare = await httpVia(proxyPath("open"), `http://api.example.com:${httpPort}/bare`);
    const withPlaceholder = await httpVia(proxyPath("open"), `http://api.example.com:${httpPort}/placeholder`, {
      headers: { authorization: `Bearer ${PLACEHOLDER}` },
    });
    const elsewhere = await httpVia(proxyPath("open"), `http://ok.example:${httpPort}/elsewhere`, { headers: { "x-forward-this": PLACEHOLDER } });
    assert.deepEqual([bare.status, withPlaceholder.status, elsewhere.status], [200, 200, 200]);
    const seen = plainSeen.slice(before);
    assert.deepEqual(
      seen.map((r) => [r.url, r.headers.authorization, r.headers["x-forward-this"]]),
      [
        ["/bare", undefined, undefined],
        ["/placeholder", `Bearer ${PLACEHOLDER}`, undefined],
        ["/elsewhere", undefined, PLACEHOLDER],
      ],
    );
    assert.ok(!JSON.stringify(seen).includes(SECRET));
  });

  test("plain HTTP: the upstream is told the host the policy checked, not a Host header the sandbox wrote", async () => {
    // On a shared address (a CDN, a virtual host) the Host header picks the site: passing
    // the sandbox's own would reach a host its project does not allow.
    const before = plainSeen.length;
    const res = await httpVia(proxyPath("custom"), `http://ok.example:${httpPort}/fronted`, { headers: { host: "denied.example" } });
    assert.equal(res.status, 200);
    assert.deepEqual(
      plainSeen.slice(before).map((r) => [r.url, r.headers.host]),
      [["/fronted", `ok.example:${httpPort}`]],
    );
  });

  test("plain HTTP: pipelined requests on one connection are each answered (apt pipelines its downloads)", async () => {
    const socket = open(proxyPath("custom"));
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const get = (path: string, last = false) =>
      `GET http://ok.example:${httpPort}${path} HTTP/1.1\r\nhost: ok.example\r\n${last ? "connection: close\r\n" : ""}\r\n`;
    // Written at once: the later requests arrive while the first is still being answered.
    socket.write(get("/one") + get("/two") + get("/three", true));
    await once(socket, "close");
    const text = Buffer.concat(chunks).toString("latin1");
    assert.deepEqual(
      [...text.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => m[1]),
      ["200", "200", "200"],
      text.slice(0, 2000),
    );
    for (const path of ["/one", "/two", "/three"]) assert.ok(text.includes(`plain upstream: GET ${path}\n`), path);
  });

  test("credentials: the credential's own host over CONNECT is intercepted and gets the value (the control for the two above)", async () => {
    const { status, socket } = await connectVia(proxyPath("open"), `api.example.com:${tlsPort}`);
    assert.equal(status, 200);
    const tls = tlsConnect({ socket, servername: "api.example.com", ca: installationCa.certificatePem });
    tls.on("error", () => {});
    await once(tls, "secureConnect");
    const before = tlsSeen.length;
    // A Host header naming another site: behind a shared front end it would pick that site,
    // and the credential would go there. The upstream is told the host the tunnel was for.
    tls.write(`GET /intercepted HTTP/1.1\r\nhost: attacker-site.example\r\nauthorization: Bearer ${PLACEHOLDER}\r\nconnection: close\r\n\r\n`);
    const chunks: Buffer[] = [];
    tls.on("data", (chunk: Buffer) => chunks.push(chunk));
    await once(tls, "close");
    assert.match(Buffer.concat(chunks).toString(), /^HTTP\/1\.1 200[\s\S]*tls upstream: \/intercepted\n$/);
    assert.deepEqual(
      tlsSeen.slice(before).map((r) => [r.headers.authorization, r.headers.host]),
      [[`Bearer ${SECRET}`, `api.example.com:${tlsPort}`]],
    );
  });

  test("request smuggling on plain HTTP (Content-Length with Transfer-Encoding, two Content-Lengths, an unknown Transfer-Encoding) is a 400 and nothing is resolved, dialled or forwarded", async () => {
    const target = `http://ok.example:${httpPort}`;
    const smuggled = `GET ${target}/smuggled HTTP/1.1\r\nhost: ok.example\r\n\r\n`;
    for (const headers of [
      "content-length: 4\r\ntransfer-encoding: chunked\r\n",
      "transfer-encoding: chunked\r\ncontent-length: 4\r\n",
      "content-length: 4\r\ncontent-length: 40\r\n",
      "transfer-encoding: chunked, identity\r\n",
      // node's parser rejects this one only after it has announced the request.
      "transfer-encoding: xchunked\r\n",
    ]) {
      const bytes = `POST ${target}/front HTTP/1.1\r\nhost: ok.example\r\n${headers}\r\n0\r\n\r\n${smuggled}`;
      const { status, text } = await withoutSideEffects(() => exchange(proxyPath("open"), bytes));
      assert.equal(status, 400, `${JSON.stringify(headers)}: ${text}`);
      assert.ok(!/HTTP\/1\.1 200/.test(text), "no request after the ambiguous one was answered");
    }
    await assertStillServing();
  });

  test("slowloris: half a request line and then silence is closed at the headers deadline; open tunnels are not", async () => {
    const quick = new EgressProxy(proxyDeps({ timeouts: { headersMs: 300 } }));
    proxies.push(quick);
    const path = await socketFor((id, socket) => quick.accept(id, socket), "open");
    const tunnel = await connectVia(path, `ok.example:${httpPort}`);
    assert.equal(tunnel.status, 200);

    const { status } = await withoutSideEffects(() => exchange(path, `GET http://ok.example:${httpPort}/sl`));
    assert.equal(status, 408);
    const gw = newGateway({ headersMs: 300 });
    const gwPath = await socketFor((id, socket) => gw.accept(id, socket), "open");
    const gwAnswer = await exchange(gwPath, "POST /anthropic/v1/mess");
    assert.ok(gwAnswer.status === null || gwAnswer.status === 408 || gwAnswer.status === 400, `gateway answered ${gwAnswer.status}`);

    // The tunnel opened before the slow client stays up past the deadline.
    tunnel.socket.resume();
    const reply: Buffer[] = [];
    tunnel.socket.on("data", (chunk: Buffer) => reply.push(chunk));
    tunnel.socket.write("GET /through-the-tunnel HTTP/1.1\r\nhost: ok.example\r\nconnection: close\r\n\r\n");
    await once(tunnel.socket, "close");
    assert.match(Buffer.concat(reply).toString(), /plain upstream: GET \/through-the-tunnel\n$/);
  });

  test("a tunnel nobody uses is closed after the idle limit", async () => {
    const quick = new EgressProxy(proxyDeps({ timeouts: { idleMs: 200 } }));
    proxies.push(quick);
    const path = await socketFor((id, socket) => quick.accept(id, socket), "open");
    const tunnel = await connectVia(path, `ok.example:${httpPort}`);
    assert.equal(tunnel.status, 200);
    tunnel.socket.resume();
    await once(tunnel.socket, "close");
  });

  test("gateway: a path with .. segments, plain or percent-encoded, is refused in the provider's shape and never reaches it", async () => {
    const before = stub.requests.length;
    for (const path of [
      "/anthropic/../admin",
      "/anthropic/v1/../../admin",
      "/anthropic/v1/%2e%2e/%2E%2E/admin",
      "/anthropic/..%2fadmin",
      "/anthropic/v1/%252e%252e/admin",
      "/anthropic/v1\\..\\..\\admin",
      "/openai/v1/./../secrets",
    ]) {
      const res = await httpVia(gatewayPath("open"), path, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      assert.equal(res.status, 400, `${path}: ${res.body}`);
      const body = JSON.parse(res.body);
      if (path.startsWith("/openai")) assert.equal(body.error.type, "invalid_request_error");
      else assert.deepEqual([body.type, body.error.type], ["error", "invalid_request_error"]);
    }
    assert.deepEqual(
      stub.requests.slice(before).map((r) => r.path),
      [],
    );

    // An ordinary call still goes through, with the real key in place of the placeholder.
    const ok = await httpVia(gatewayPath("open"), "/anthropic/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": ANTHROPIC_KEY.placeholder },
      body: JSON.stringify({ model: "claude-test", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual([stub.requests.at(-1)?.path, stub.requests.at(-1)?.headers["x-api-key"]], ["/v1/messages", ANTHROPIC_KEY.value]);
  });

  test("gateway: an unknown provider is a JSON 404, and a sandbox the control plane does not know gets a 403", async () => {
    const before = stub.requests.length;
    const unknown = await httpVia(gatewayPath("open"), "/vertex/v1/models");
    assert.equal(unknown.status, 404);
    assert.match(String(unknown.headers["content-type"]), /^application\/json/);
    assert.match(JSON.parse(unknown.body).error.message, /use \/anthropic\/…, \/openai\/… or \/gemini\/…/);

    const gone = await httpVia(gatewayPath("gone"), "/anthropic/v1/messages", { method: "POST", body: "{}" });
    assert.equal(gone.status, 403);
    assert.equal(JSON.parse(gone.body).error.type, "permission_error");
    const goneProxy = await httpVia(proxyPath("gone"), `http://ok.example:${httpPort}/`);
    assert.equal(goneProxy.status, 403);
    assert.equal(stub.requests.length, before);
    await assertStillServing();
  });

  test("gateway: a failure of the control plane's own (the usage store) answers 500 in the provider's shape and the gateway keeps serving", async () => {
    const before = stub.requests.length;
    const res = await httpVia(gatewayPath("budgeted"), "/anthropic/v1/messages", { method: "POST", body: "{}" });
    assert.equal(res.status, 500);
    assert.deepEqual([JSON.parse(res.body).type, JSON.parse(res.body).error.type], ["error", "api_error"]);
    assert.equal(stub.requests.length, before, "the call was not sent on unmetered");
    assert.ok(logs.some((line) => line.includes("the usage store is unreachable")));
    const ok = await httpVia(gatewayPath("open"), "/anthropic/v1/messages", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "claude-test", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(ok.status, 200, ok.body);
  });
});
