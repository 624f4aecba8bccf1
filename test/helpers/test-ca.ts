// A throwaway certificate authority for tests that need real TLS: an upstream "provider"
// served over HTTPS on 127.0.0.1, a server the proxy must verify, a CA a client must not
// trust. Unrelated to the installation CA (src/egress/certificates.ts) on purpose, so a test
// can tell the two apart. Keys come from node:crypto (forge's own keygen is far too slow).
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";

export interface TestCa {
  /** The CA certificate, PEM: give it to clients as `ca`. */
  caPem: string;
  /** A server certificate for `names` (DNS names or IP literals, e.g. "localhost", "127.0.0.1"), PEM key and cert. */
  issue(names: string[]): { key: string; cert: string };
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function makeTestCa(): TestCa {
  const caKeys = rsaKeys();
  const caSubject = [{ shortName: "CN", value: `Outpost test CA ${randomBytes(4).toString("hex")}` }];
  const ca = newCertificate(caKeys.publicPem);
  ca.setSubject(caSubject);
  ca.setIssuer(caSubject);
  ca.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  ca.sign(forge.pki.privateKeyFromPem(caKeys.privatePem), forge.md.sha256.create());

  return {
    caPem: forge.pki.certificateToPem(ca),
    issue(names) {
      const [first] = names;
      if (!first) throw new Error("issue() needs at least one name");
      const keys = rsaKeys();
      const cert = newCertificate(keys.publicPem);
      cert.setSubject([{ shortName: "CN", value: first }]);
      cert.setIssuer(caSubject);
      cert.setExtensions([
        { name: "basicConstraints", cA: false },
        { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
        { name: "extKeyUsage", serverAuth: true },
        { name: "subjectAltName", altNames: names.map((name) => (isIP(name) ? { type: 7, ip: name } : { type: 2, value: name })) },
        { name: "authorityKeyIdentifier", keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
      ]);
      cert.sign(forge.pki.privateKeyFromPem(caKeys.privatePem), forge.md.sha256.create());
      return { key: keys.privatePem, cert: forge.pki.certificateToPem(cert) };
    },
  };
}

function rsaKeys(): { publicPem: string; privatePem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return { publicPem: publicKey, privatePem: privateKey };
}

function newCertificate(publicPem: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicPem);
  cert.serialNumber = `01${randomBytes(8).toString("hex")}`;
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(Date.now() + 30 * DAY_MS);
  return cert;
}
