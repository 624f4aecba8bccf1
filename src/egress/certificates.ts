// The installation's own certificate authority. The egress proxy terminates a sandbox's TLS
// in one case only: a request to a credential's hosts when that service has no base-URL
// option (so the gateway's plain-HTTP route cannot be used), because the proxy must read the
// request to swap the placeholder for the real credential. Sandboxes trust this CA through
// `trustBundle`; nothing outside them ever should.
//
// Limits: leaves are RSA-2048 with one key pair per process (a new host name then costs one
// signature, ~2 ms with node's native RSA, instead of a key generation that would stall
// every other tunnel); at most LEAF_CACHE_LIMIT host names keep a ready TLS context.
//
// node-forge only lays out the X.509 structures; keys are made and used by node:crypto,
// since forge's pure-JS RSA takes seconds to generate and tens of milliseconds to sign.
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign, X509Certificate } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import ipaddr from "ipaddr.js";
import forge from "node-forge";
import type { SecretBox } from "../crypto/secrets.ts";
import { randomLowerAlnum } from "../random.ts";

const CERT_FILE = "ca.pem";
const KEY_FILE = "ca.key.sealed";
/** Associated data of the sealed CA key, so no other sealed value can stand in for it. */
const SEAL_CONTEXT = "egress-ca";

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 3653;
/** Apple platforms refuse TLS leaves valid longer than 825 days, even under a user-added root. */
const LEAF_VALIDITY_DAYS = 825;
/** Host names come from the sandbox (the CONNECT target), so the cache must be bounded. */
const LEAF_CACHE_LIMIT = 1000;
/** X.520 caps a commonName at 64 characters; longer names go in the SAN alone. */
const COMMON_NAME_MAX = 64;

const SYSTEM_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"];

// node-forge exports getTBSCertificate; its typings leave it out.
const { getTBSCertificate } = forge.pki as typeof forge.pki & { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };

export class CertificateAuthority {
  /** The CA certificate, PEM. */
  readonly certificatePem: string;
  readonly #certificate: forge.pki.Certificate;
  readonly #key: KeyObject;
  /** Host name → context; Map order is use order (least recently used first). */
  readonly #contexts = new Map<string, SecureContext>();

  private constructor(certificatePem: string, keyPem: string) {
    const key = createPrivateKey(keyPem);
    // A key that does not match would sign leaves no sandbox accepts, failing far from the cause.
    if (!new X509Certificate(certificatePem).checkPrivateKey(key)) throw new Error("the egress CA's key does not belong to its certificate");
    this.certificatePem = certificatePem;
    this.#certificate = forge.pki.certificateFromPem(certificatePem);
    this.#key = key;
  }

  /**
   * Loads <dir>/ca.pem and <dir>/ca.key.sealed (the key sealed with `box`), or creates both.
   * A wrong secret key or a tampered key file throws SECRET_DECRYPT_FAILED (from SecretBox).
   */
  static loadOrCreate(dir: string, box: SecretBox): CertificateAuthority {
    const certPath = join(dir, CERT_FILE);
    const keyPath = join(dir, KEY_FILE);
    // The certificate is written last, so its presence means the pair is complete. Without
    // it, nothing was handed to a sandbox yet and a fresh CA replaces any half-written key.
    if (existsSync(certPath)) {
      if (!existsSync(keyPath)) throw new Error(`the egress CA's key ${keyPath} is missing; remove ${certPath} to make a new CA`);
      return new CertificateAuthority(readFileSync(certPath, "utf8"), box.open(readFileSync(keyPath, "utf8"), SEAL_CONTEXT));
    }
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { certificatePem, keyPem } = createCaCertificate();
    writeDurably(keyPath, box.seal(keyPem, SEAL_CONTEXT), 0o600);
    writeDurably(certPath, certificatePem, 0o644);
    return new CertificateAuthority(certificatePem, keyPem);
  }

  /**
   * A TLS context presenting a leaf for `hostname` (a DNS name or an IP literal), signed by
   * this CA. Throws a TypeError for anything else: the name comes from a sandbox.
   */
  contextFor(hostname: string): SecureContext {
    const name = canonicalHostname(hostname);
    const cached = this.#contexts.get(name);
    if (cached) {
      this.#contexts.delete(name);
      this.#contexts.set(name, cached);
      return cached;
    }
    const context = createSecureContext({ key: leafKeys().privatePem, cert: this.#issueLeaf(name) });
    this.#contexts.set(name, context);
    for (const oldest of this.#contexts.keys()) {
      if (this.#contexts.size <= LEAF_CACHE_LIMIT) break;
      this.#contexts.delete(oldest);
    }
    return context;
  }

  #issueLeaf(name: string): string {
    const ip = isIP(name) !== 0;
    const cert = forge.pki.createCertificate();
    cert.publicKey = leafKeys().publicKey;
    cert.serialNumber = randomSerial();
    // Backdated a day so a sandbox whose clock runs a little behind still accepts it.
    cert.validity.notBefore = new Date(Date.now() - DAY_MS);
    const notAfter = new Date(cert.validity.notBefore.getTime() + LEAF_VALIDITY_DAYS * DAY_MS);
    cert.validity.notAfter = notAfter < this.#certificate.validity.notAfter ? notAfter : this.#certificate.validity.notAfter;
    const hasSubject = name.length <= COMMON_NAME_MAX;
    cert.setSubject(hasSubject ? [{ shortName: "CN", value: name }] : []);
    cert.setIssuer(this.#certificate.subject.attributes);
    cert.setExtensions([
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      // RFC 5280: with an empty subject, the SAN must be critical. Tags: 2 dNSName, 7 iPAddress.
      { name: "subjectAltName", critical: !hasSubject, altNames: [ip ? { type: 7, value: ipBytes(name) } : { type: 2, value: name }] },
      { name: "subjectKeyIdentifier" },
      // Python 3.13's strict verification refuses a leaf without the issuer's key id.
      { name: "authorityKeyIdentifier", keyIdentifier: this.#certificate.generateSubjectKeyIdentifier().getBytes() },
    ]);
    return signCertificate(cert, this.#key);
  }
}

/**
 * The PEM bundle a sandbox trusts: the host's system bundle (or, without one, node's own
 * roots) followed by the installation CA, so public hosts keep verifying as before.
 */
export function trustBundle(caPem: string): string {
  const systemPath = SYSTEM_BUNDLES.find((path) => existsSync(path));
  const system = systemPath ? readFileSync(systemPath, "utf8") : rootCertificates.join("\n");
  return `${system.trimEnd()}\n${caPem.trimEnd()}\n`;
}

function createCaCertificate(): { certificatePem: string; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey);
  cert.serialNumber = randomSerial();
  cert.validity.notBefore = new Date(Date.now() - DAY_MS);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS);
  // A random id in the name tells one installation's CA from another's in a trust store.
  const subject = [
    { shortName: "CN", value: `Outpost egress CA (${randomLowerAlnum(8)})` },
    { shortName: "O", value: "Outpost" },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathlen 0: even a stolen CA key cannot mint intermediate CAs.
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  return { certificatePem: signCertificate(cert, createPrivateKey(privateKey)), keyPem: privateKey };
}

/** Signs with node's native RSA (sha256WithRSAEncryption) and returns the certificate's PEM. */
function signCertificate(cert: forge.pki.Certificate, key: KeyObject): string {
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = cert.signatureOid;
  cert.tbsCertificate = getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), "binary");
  cert.signature = sign("sha256", tbs, key).toString("binary");
  return forge.pki.certificateToPem(cert);
}

let sharedLeafKeys: { publicKey: forge.pki.PublicKey; privatePem: string } | undefined;

/** The one key pair of every leaf, made on first use; it never leaves this process. */
function leafKeys(): { publicKey: forge.pki.PublicKey; privatePem: string } {
  if (!sharedLeafKeys) {
    const { publicKey, privateKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
    });
    sharedLeafKeys = { publicKey: forge.pki.publicKeyFromPem(publicKey), privatePem: privateKey };
  }
  return sharedLeafKeys;
}

/** 16 random bytes as a positive DER INTEGER with no leading zero byte (strict parsers refuse one). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString("hex");
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The cache key and certificate name for `hostname`: a lower-cased DNS name (letters,
 * digits, inner hyphens; no wildcard, trailing dot or all-digit top label, which URL parsers
 * read as IPv4) or an IP literal in its canonical spelling (no brackets, no zone).
 */
function canonicalHostname(hostname: string): string {
  if (isIP(hostname) !== 0 && !hostname.includes("%")) return ipaddr.parse(hostname).toString();
  const name = hostname.toLowerCase();
  const labels = name.split(".");
  const valid = name.length > 0 && name.length <= 253 && labels.every((label) => DNS_LABEL.test(label)) && !/^[0-9]+$/.test(labels.at(-1) ?? "");
  if (!valid) throw new TypeError(`not a DNS name or IP literal: ${JSON.stringify(hostname.slice(0, 300))}`);
  return name;
}

function ipBytes(ip: string): string {
  return String.fromCharCode(...ipaddr.parse(ip).toByteArray());
}

/** Write to a temporary file, flush, then rename: a crash leaves the old file or the new one, never half of it. */
function writeDurably(path: string, text: string, mode: number): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}
