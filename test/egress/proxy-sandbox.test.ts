// The egress proxy end to end, with real sandboxes (bwrap) and real sockets: a command in a
// sandbox reaches a test server on the host's loopback through `host.outpost.internal`
// (plain HTTP and HTTPS through CONNECT) when the project allows it, gets the readable 403
// when it does not, sees a policy change on its next connection, and every decision is
// recorded (API, events). Traffic goes to 127.0.0.1 only.
import assert from "node:assert/strict";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { exec, runningSandbox } from "../helpers/sandboxes.ts";
import { api, startTestServer, type TestServer } from "../helpers/server.ts";
import { makeTestCa } from "../helpers/test-ca.ts";

const HOST = "host.outpost.internal";

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Polls the egress record until `match` holds (decisions are written in batches). */
async function waitForRecords(s: TestServer, project: string, match: (items: any[]) => boolean): Promise<any[]> {
  for (;;) {
    const res = await api(s, "GET", `/api/v1/projects/${project}/egress?limit=1000`);
    assert.equal(res.status, 200);
    if (match(res.body.items)) return res.body.items;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("egress proxy (sandbox → host loopback)", () => {
  let s: TestServer;
  let box: any;
  let httpPort: number;
  let httpsPort: number;
  let otherPort: number;
  const seen: { url: string; via: string | undefined }[] = [];
  const servers: Server[] = [];
  const ca = makeTestCa();

  before(async () => {
    const plain = createHttpServer((req, res) => {
      seen.push({ url: req.url ?? "", via: req.headers.host });
      res.end(`hello from the host: ${req.method} ${req.url}\n`);
    });
    const tls = createHttpsServer(ca.issue([HOST, "127.0.0.1"]), (req, res) => res.end(`secure hello: ${req.url}\n`));
    const other = createHttpServer((_req, res) => res.end("should never be reached\n"));
    servers.push(plain, tls, other);
    [httpPort, httpsPort, otherPort] = await Promise.all([listen(plain), listen(tls as unknown as Server), listen(other)]);
    s = await startTestServer("embedded");
    const created = await api(s, "POST", "/api/v1/projects", {
      body: { name: "eg", egress: { level: "custom", allow: [`${HOST}:${httpPort}`, { host: HOST, port: httpsPort }] } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    box = await runningSandbox(s, "eg");
    await exec(s, box.id, "cat > /workspace/test-ca.pem", { stdin: ca.caPem });
  });
  after(async () => {
    await s?.close();
    for (const server of servers) server.close();
  });

  test("an allowed host answers over plain HTTP and over HTTPS through CONNECT", async () => {
    const plain = await exec(s, box.id, `curl -sS -m 20 http://${HOST}:${httpPort}/hello`);
    assert.equal(plain.stdout, "hello from the host: GET /hello\n", plain.stderr);
    const secure = await exec(s, box.id, `curl -sS -m 20 --cacert /workspace/test-ca.pem https://${HOST}:${httpsPort}/tls`);
    assert.equal(secure.stdout, "secure hello: /tls\n", secure.stderr);
  });

  test("Node's fetch and ssh's ProxyCommand helper go through the proxy as set up inside", async () => {
    const fetched = await exec(s, box.id, `node -e 'fetch("http://${HOST}:${httpPort}/from-node").then(r => r.text()).then(t => process.stdout.write(t))'`);
    assert.equal(fetched.stdout, "hello from the host: GET /from-node\n", fetched.stderr);
    assert.equal(fetched.stderr, "", "node prints no warning about the proxy agent");
    // GIT_SSH_COMMAND's ProxyCommand: bytes both ways through CONNECT (here to an HTTP server).
    const piped = await exec(s, box.id, `printf 'GET /over-ssh-proxy HTTP/1.0\\r\\n\\r\\n' | /opt/outpost/bin/outpost-ssh-proxy ${HOST} ${httpPort}`);
    assert.match(piped.stdout, /hello from the host: GET \/over-ssh-proxy/, piped.stderr);
    assert.match(String((await exec(s, box.id, "echo $GIT_SSH_COMMAND")).stdout), /ProxyCommand="\/opt\/outpost\/bin\/outpost-ssh-proxy %h %p"/);
    const refused = await exec(s, box.id, `/opt/outpost/bin/outpost-ssh-proxy ${HOST} ${otherPort} < /dev/null`);
    assert.notEqual(refused.exitCode, 0);
    assert.match(refused.stderr, /refused for project eg/);
  });

  test("a port the project does not allow gets a 403 naming the host and how to allow it", async () => {
    const refused = await exec(s, box.id, `curl -sS -m 20 -w '\\n%{http_code}' http://${HOST}:${otherPort}/`);
    const [body = "", status] = refused.stdout.split("\n").filter(Boolean);
    assert.equal(status, "403");
    assert.match(body, new RegExp(`${HOST}:${otherPort} refused for project eg`));
    assert.match(body, new RegExp(`outpost project update eg --allow ${HOST}:${otherPort}`));
    const tunnel = await exec(s, box.id, `curl -sS -m 20 https://${HOST}:${otherPort}/ 2>&1; echo "exit $?"`);
    assert.match(tunnel.stdout, /403/);
  });

  test("a policy change applies to the next connection, without a restart", async () => {
    const patched = await api(s, "PATCH", "/api/v1/projects/eg", { body: { egress: { allow: [`${HOST}:${otherPort}`] } } });
    assert.equal(patched.status, 200);
    const now = await exec(s, box.id, `curl -sS -m 20 http://${HOST}:${otherPort}/`);
    assert.equal(now.stdout, "should never be reached\n");
    const before = await exec(s, box.id, `curl -sS -m 20 -o /dev/null -w '%{http_code}' http://${HOST}:${httpPort}/`);
    assert.equal(before.stdout, "403");
  });

  test("the host's other loopback services and private addresses stay out of reach", async () => {
    await api(s, "PATCH", "/api/v1/projects/eg", { body: { egress: { level: "open", allow: [] } } });
    for (const target of [`http://127.0.0.1:${httpPort}/`, `http://localhost:${httpPort}/`, "http://169.254.169.254/latest/meta-data/"]) {
      const res = await exec(s, box.id, `curl -sS -m 20 -o /dev/null -w '%{http_code}' --proxy http://127.0.0.1:3128 --noproxy '' ${target}`);
      assert.equal(res.stdout, "403", `${target}: ${res.stderr}`);
    }
    assert.ok(!seen.some((r) => r.url === "/" && r.via?.startsWith("127.0.0.1")), "the host server was reached through 127.0.0.1");
  });

  test("every decision is recorded with its rule, and denials are events", async () => {
    // Every connection of the tests above has been recorded (decisions are written in batches).
    const items = await waitForRecords(s, "eg", (rows) => rows.some((r) => !r.allowed) && rows.filter((r) => r.allowed && r.bytesDown > 0).length >= 5);
    const allowed = items.find((r) => r.allowed && r.port === httpPort);
    assert.equal(allowed.host, HOST);
    assert.equal(allowed.address, "127.0.0.1");
    assert.match(allowed.rule, /^allow /);
    const denied = items.find((r) => !r.allowed && r.port === otherPort);
    assert.ok(denied, "the refused port is recorded");
    const res = await api(s, "GET", "/api/v1/events?follow=false&project=eg");
    const events = [...String(res.body).matchAll(/^data: (.+)$/gm)].map((m) => JSON.parse(m[1] ?? "null"));
    const denial = events.find((e) => e.type === "egress.denied" && e.data.port === otherPort);
    assert.ok(denial, "an egress.denied event");
    assert.equal(denial.data.host, HOST);
    assert.match(denial.data.reason, /no rule allows/);
    // Allowed connections are summed up, not an event each.
    const allowedEvents = events.filter((e) => e.type === "egress.allowed");
    const allowedRows = items.filter((r) => r.allowed).length;
    assert.ok(allowedRows >= 5 && allowedEvents.length >= 1 && allowedEvents.length <= 2, `${allowedRows} connections, ${allowedEvents.length} events`);
    assert.ok(allowedEvents[0].data.hosts.some((h: any) => h.host === `${HOST}:${httpPort}`));

    const metrics = await api(s, "GET", "/metrics");
    assert.match(String(metrics.body), /outpost_egress_connections_total\{decision="denied"\} [1-9]/);
    assert.match(String(metrics.body), /outpost_egress_bytes_total\{direction="down"\} [1-9]/);
  });
});
