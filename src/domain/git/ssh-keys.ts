// SSH public keys and known_hosts lines (pure). A project's deploy key is ed25519: its
// public half is shown to people (to add to the repository) as an OpenSSH line with its
// SHA256 fingerprint, and offered by the host-side agent as a key blob (RFC 8709). Host
// keys are pinned as known_hosts lines naming the host the way the sandbox's ssh sees it.
import { createHash } from "node:crypto";

export const ED25519 = "ssh-ed25519";
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** The key types a pinned host key may have (what OpenSSH 9 offers by default). */
export const HOST_KEY_TYPES = [
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "ssh-rsa",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
] as const;

/** Bounds of a project's pinned host keys (stored in projects.git, handed to every command). */
export const MAX_KNOWN_HOSTS_BYTES = 16 * 1024;
export const MAX_KNOWN_HOSTS_LINES = 32;

/** SSH's `string`: uint32 length, then the bytes (RFC 4251 §5). */
export function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** The wire form of an ed25519 public key: string "ssh-ed25519", string key (32 bytes). */
export function ed25519KeyBlob(publicKey: Buffer): Buffer {
  if (publicKey.length !== ED25519_KEY_BYTES) throw new Error(`an ed25519 public key has ${ED25519_KEY_BYTES} bytes, not ${publicKey.length}`);
  return Buffer.concat([sshString(ED25519), sshString(publicKey)]);
}

/** The wire form of an ed25519 signature: string "ssh-ed25519", string signature (64 bytes). */
export function ed25519SignatureBlob(signature: Buffer): Buffer {
  if (signature.length !== ED25519_SIGNATURE_BYTES) throw new Error(`an ed25519 signature has ${ED25519_SIGNATURE_BYTES} bytes, not ${signature.length}`);
  return Buffer.concat([sshString(ED25519), sshString(signature)]);
}

/** `ssh-ed25519 AAAA… comment`: the line to paste into a repository's deploy keys. */
export function openSshPublicKey(publicKey: Buffer, comment: string): string {
  const line = `${ED25519} ${ed25519KeyBlob(publicKey).toString("base64")}`;
  const clean = comment.replace(/[^\x21-\x7e]/g, "");
  return clean ? `${line} ${clean}` : line;
}

/** `SHA256:…` as `ssh-keygen -l` prints it (base64 without padding). */
export function keyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash("sha256").update(keyBlob).digest("base64").replace(/=+$/, "")}`;
}

/** How known_hosts names a host: `host` on port 22, `[host]:port` elsewhere (ssh looks it up so). */
export function knownHostsName(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return port === 22 && !bare.includes(":") ? bare : `[${bare}]:${port}`;
}

/** The first `string` of a blob (its key type), or null when the blob is malformed. */
function blobType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const length = blob.readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return null;
  return blob.subarray(4, 4 + length).toString("latin1");
}

interface KeyField {
  type: string;
  base64: string;
}

/** `type base64` of one known_hosts key, checked: the blob decodes and names the same type. */
function parseKey(type: string | undefined, base64: string | undefined): KeyField | string {
  if (!type || !base64) return "expected `HOST KEYTYPE BASE64`";
  if (!(HOST_KEY_TYPES as readonly string[]).includes(type)) return `key type '${type.slice(0, 40)}' is not one ssh accepts for a host`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return "the key is not base64";
  const blob = Buffer.from(base64, "base64");
  const inner = blobType(blob);
  if (inner !== type) return `the key's blob says '${inner ?? "nothing"}', not '${type}'`;
  return { type, base64 };
}

/** known_hosts host patterns we accept: names, `[name]:port`, IP literals; no negation or wildcards. */
const HOST_PATTERN = /^(?:[a-z0-9._-]{1,253}|\[[a-z0-9._:-]{1,253}\]:\d{1,5}|[0-9a-f:.]{2,45})$/;

/**
 * What is wrong with a known_hosts text a user pins (null: nothing). Plain lines only
 * (`host[,host…] keytype base64 [comment]`): no `@cert-authority`/`@revoked` markers, no
 * hashed names or wildcards, so what is pinned is exactly what people read.
 */
export function knownHostsProblem(text: string): string | null {
  if (Buffer.byteLength(text) > MAX_KNOWN_HOSTS_BYTES) return `known hosts are at most ${MAX_KNOWN_HOSTS_BYTES} bytes`;
  if (/[^\x20-\x7e\n]/.test(text.replace(/\r\n/g, "\n"))) return "known hosts must be printable ASCII lines";
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));
  if (lines.length > MAX_KNOWN_HOSTS_LINES) return `known hosts hold at most ${MAX_KNOWN_HOSTS_LINES} keys`;
  for (const [index, line] of lines.entries()) {
    const [hosts, type, base64] = line.trim().split(/\s+/);
    const where = `line ${index + 1}`;
    if (!hosts || hosts.startsWith("@") || hosts.startsWith("|")) return `${where}: markers and hashed host names are not accepted`;
    for (const host of hosts.split(",")) {
      if (!HOST_PATTERN.test(host.toLowerCase())) return `${where}: '${host.slice(0, 60)}' is not a host name, [host]:port or address`;
    }
    const key = parseKey(type, base64);
    if (typeof key === "string") return `${where}: ${key}`;
  }
  return null;
}

/**
 * The known_hosts lines for `host`:`port` from `ssh-keyscan` output (which names the host
 * as it was scanned, e.g. 127.0.0.1): each valid key once, named as the sandbox sees it.
 */
export function knownHostsFromScan(scanOutput: string, host: string, port: number): string {
  const name = knownHostsName(host, port);
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const raw of scanOutput.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const [, type, base64] = line.split(/\s+/);
    const key = parseKey(type, base64);
    if (typeof key === "string" || seen.has(key.base64)) continue;
    seen.add(key.base64);
    lines.push(`${name} ${key.type} ${key.base64}`);
  }
  return lines.length ? `${lines.sort().join("\n")}\n` : "";
}
