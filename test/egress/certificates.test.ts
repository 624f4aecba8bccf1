import assert from "node:assert/strict";
import { randomBytes, X509Certificate } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ConnectionOptions, createServer as createTlsServer, rootCertificates, type TLSSocket, connect as tlsConnect } from "node:tls";
import forge from "node-forge";
import { SecretBox } from "../../src/crypto/secrets.ts";
import { OutpostError } from "../../src/domain/errors.ts";
import { CertificateAuthority, trustBundle } from "../../src/egress/certificates.ts";
import { terminateTls } from "../../src/egress/intercept-tls.ts";
import { makeTestCa } from "../helpers/test-ca.ts";

/** A listener on 127.0.0.1 standing in for the proxy: hands over the next accepted connection. */
async function listen(): Promise<{ port: number; accepted: Promise<Socket>; close: () => void }> {
  const server: Server = createServer();
  const accepted = once(server, "connection").then(([socket]) => socket as Socket);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  assert.ok(address && typeof address === "object");
  return { port: address.port, accepted, close: () => server.close() };
}

/** One TLS handshake: the client connects with `client` options, the "proxy" side terminates as `hostname`. */
async function handshake(
  ca: CertificateAuthority,
  hostname: string,
  client: ConnectionOptions,
): Promise<{ client: TLSSocket; served: Promise<TLSSocket>; close: () => void }> {
  const listener = await listen();
  const socket = tlsConnect({ host: "127.0.0.1", port: listener.port, ...client });
  const served = terminateTls(await listener.accepted, hostname, ca);
  const close = () => {
    socket.destroy();
    served.then(
      (s) => s.destroy(),
      () => {},
    );
    listener.close();
  };
  return { client: socket, served, close };
}

describe("the egress CA and TLS termination", () => {
  let dir: string;
  let box: SecretBox;
  let ca: CertificateAuthority;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "outpost-egress-ca-"));
    box = new SecretBox(randomBytes(32));
    ca = CertificateAuthority.loadOrCreate(join(dir, "shared"), box);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a client trusting the CA gets a verified connection to the name it asked for, speaking HTTP/1.1", async () => {
    const { client, served, close } = await handshake(ca, "api.example.com", {
      servername: "api.example.com",
      ca: ca.certificatePem,
      ALPNProtocols: ["h2", "http/1.1"],
    });
    try {
      await once(client, "secureConnect");
      const server = await served;
      assert.equal(client.authorized, true);
      assert.equal(client.alpnProtocol, "http/1.1");
      // The SNI name the client sent (a runtime property @types/node leaves out).
      assert.equal((server as TLSSocket & { servername?: string }).servername, "api.example.com");
      const peer = client.getPeerCertificate();
      assert.equal(peer.subjectaltname, "DNS:api.example.com");
      assert.match(peer.issuer.CN ?? "", /^Outpost egress CA \([a-z0-9]{8}\)$/);
      server.write("hello through the tunnel");
      const [data] = await once(client, "data");
      assert.equal(String(data), "hello through the tunnel");
    } finally {
      close();
    }
  });

  test("a client that does not trust the CA refuses the leaf", async () => {
    const { client, close } = await handshake(ca, "api.example.com", { servername: "api.example.com", ca: makeTestCa().caPem });
    try {
      await assert.rejects(once(client, "secureConnect"), { code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE" });
    } finally {
      close();
    }
  });

  test("a leaf for one host does not pass for another", async () => {
    const { client, close } = await handshake(ca, "api.example.com", { servername: "evil.example.com", ca: ca.certificatePem });
    try {
      await assert.rejects(once(client, "secureConnect"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
    } finally {
      close();
    }
  });

  test("an IP literal gets an IP address SAN that clients verify", async () => {
    const { client, served, close } = await handshake(ca, "127.0.0.1", { ca: ca.certificatePem });
    try {
      await once(client, "secureConnect");
      await served;
      assert.equal(client.authorized, true);
      assert.equal(client.getPeerCertificate().subjectaltname, "IP Address:127.0.0.1");
    } finally {
      close();
    }
  });

  test("a 253-character name (too long for a common name) still gets a leaf clients verify", async () => {
    const long = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`;
    assert.equal(long.length, 253);
    const { client, served, close } = await handshake(ca, long, { servername: long, ca: ca.certificatePem });
    try {
      await once(client, "secureConnect");
      await served;
      assert.equal(client.authorized, true);
      assert.equal(client.getPeerCertificate().subjectaltname, `DNS:${long}`);
    } finally {
      close();
    }
  });

  test("host names a sandbox could abuse are refused", async () => {
    const hostile = [
      "*.example.com",
      "a\nb",
      "",
      "a".repeat(254),
      "foo..bar",
      "-x.example.com",
      "x-.example.com",
      "under_score.com",
      "example.com.",
      "1.2.3",
      "fe80::1%eth0",
      "[::1]",
      "a b",
    ];
    for (const name of hostile) assert.throws(() => ca.contextFor(name), TypeError, JSON.stringify(name));
    for (const name of ["localhost", "API.Example.com", "xn--bcher-kva.example", "::1", "10.0.0.1"]) ca.contextFor(name);
    assert.equal(ca.contextFor("API.example.COM"), ca.contextFor("api.example.com"), "names differing in case share one leaf");

    const listener = await listen();
    const client = netConnect(listener.port, "127.0.0.1");
    try {
      await assert.rejects(terminateTls(await listener.accepted, "*.example.com", ca), TypeError);
      await once(client, "close");
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test("a handshake that never comes is given up after the timeout, closing the connection", async () => {
    const listener = await listen();
    const client = netConnect(listener.port, "127.0.0.1");
    try {
      await assert.rejects(terminateTls(await listener.accepted, "api.example.com", ca, { timeoutMs: 50 }), /did not finish within 50 ms/);
      await once(client, "close");
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test("an aborted handshake rejects with the abort reason and closes the connection", async () => {
    const listener = await listen();
    const client = netConnect(listener.port, "127.0.0.1");
    const controller = new AbortController();
    try {
      const served = terminateTls(await listener.accepted, "api.example.com", ca, { signal: controller.signal });
      controller.abort(new Error("proxy closing"));
      await assert.rejects(served, /proxy closing/);
      await once(client, "close");
    } finally {
      client.destroy();
      listener.close();
    }
  });

  test("the trust bundle holds the system's roots followed by the installation CA", async () => {
    const bundle = trustBundle(ca.certificatePem);
    const systemPath = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"].find((path) => existsSync(path));
    const system = systemPath ? readFileSync(systemPath, "utf8") : rootCertificates.join("\n");
    assert.ok(bundle.startsWith(system.trimEnd()), "starts with the system bundle");
    assert.ok(bundle.trimEnd().endsWith(ca.certificatePem.trimEnd()), "ends with the installation CA");

    const { client, served, close } = await handshake(ca, "api.example.com", { servername: "api.example.com", ca: bundle });
    try {
      await once(client, "secureConnect");
      await served;
      assert.equal(client.authorized, true);
    } finally {
      close();
    }
  });

  test("the CA is made once per directory: loaded again, it is the same CA and its key is sealed on disk", async () => {
    const caDir = join(dir, "persisted");
    const first = CertificateAuthority.loadOrCreate(caDir, box);
    const second = CertificateAuthority.loadOrCreate(caDir, box);
    assert.equal(second.certificatePem, first.certificatePem);
    assert.equal(readFileSync(join(caDir, "ca.pem"), "utf8"), first.certificatePem);

    const sealedKey = readFileSync(join(caDir, "ca.key.sealed"), "utf8");
    assert.ok(!sealedKey.includes("PRIVATE KEY"), "the key file holds no clear PEM key");
    assert.equal(statSync(caDir).mode & 0o777, 0o700);
    assert.equal(statSync(join(caDir, "ca.key.sealed")).mode & 0o777, 0o600);
    assert.equal(statSync(join(caDir, "ca.pem")).mode & 0o777, 0o644);

    const x509 = new X509Certificate(first.certificatePem);
    assert.equal(x509.ca, true);
    const years = (Date.parse(x509.validTo) - Date.parse(x509.validFrom)) / (365.25 * 24 * 3600 * 1000);
    assert.ok(years > 9.9 && years < 10.1, `valid ${years} years`);
    const basic = forge.pki.certificateFromPem(first.certificatePem).getExtension("basicConstraints") as { pathLenConstraint?: number };
    assert.equal(basic.pathLenConstraint, 0, "the CA cannot mint intermediate CAs");

    // Leaves signed with the reloaded key verify against the certificate handed out before.
    const { client, served, close } = await handshake(second, "api.example.com", { servername: "api.example.com", ca: first.certificatePem });
    try {
      await once(client, "secureConnect");
      await served;
      assert.equal(client.authorized, true);
    } finally {
      close();
    }
  });

  test("another secret key or a tampered key file is refused with SECRET_DECRYPT_FAILED, and the CA is not replaced", () => {
    const caDir = join(dir, "guarded");
    const original = CertificateAuthority.loadOrCreate(caDir, box).certificatePem;
    const decryptFailed = (error: unknown) => error instanceof OutpostError && error.code === "SECRET_DECRYPT_FAILED";

    assert.throws(() => CertificateAuthority.loadOrCreate(caDir, new SecretBox(randomBytes(32))), decryptFailed);

    const keyPath = join(caDir, "ca.key.sealed");
    const sealed = readFileSync(keyPath, "utf8");
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[40] = (raw[40] ?? 0) ^ 1;
    writeFileSync(keyPath, `v1:${raw.toString("base64")}`);
    assert.throws(() => CertificateAuthority.loadOrCreate(caDir, box), decryptFailed);

    assert.equal(readFileSync(join(caDir, "ca.pem"), "utf8"), original);
  });

  test("the test CA helper issues server certificates for names and IPs that clients verify", async () => {
    const testCa = makeTestCa();
    const server = createTlsServer(testCa.issue(["localhost", "127.0.0.1"]), (socket) => socket.end("ok"));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const address = server.address();
    assert.ok(address && typeof address === "object");
    try {
      for (const options of [{ servername: "localhost" }, {}]) {
        const client: TLSSocket = tlsConnect({ host: "127.0.0.1", port: address.port, ca: testCa.caPem, ...options });
        await once(client, "secureConnect");
        assert.equal(client.authorized, true);
        client.destroy();
      }
    } finally {
      server.close();
    }
  });
});
