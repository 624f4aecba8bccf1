// The SSH agent protocol, the few messages the host-side agent answers (pure; framing per
// draft-miller-ssh-agent): every message is uint32 length, byte type, contents.
//   REQUEST_IDENTITIES (11) → IDENTITIES_ANSWER (12): the project's deploy key, or none
//   SIGN_REQUEST (13)       → SIGN_RESPONSE (14): only with that key, and only for data that
//                             is an SSH public-key authentication request for it (RFC 4252
//                             §7), so the agent is no general signing oracle: a process in
//                             the sandbox cannot have it sign commits (SSHSIG) or anything else
//   anything else           → FAILURE (5)  (adding keys, locking, extensions: never here)
// A message longer than MAX_AGENT_MESSAGE_BYTES, or one whose contents do not parse, is a
// protocol error: the connection is closed, nothing is answered.
import { ED25519, sshString } from "./ssh-keys.ts";

export const AGENT_MESSAGE = {
  FAILURE: 5,
  REQUEST_IDENTITIES: 11,
  IDENTITIES_ANSWER: 12,
  SIGN_REQUEST: 13,
  SIGN_RESPONSE: 14,
} as const;

/** OpenSSH's own agent takes up to 256 KiB per message; a sign request for auth is < 1 KiB. */
export const MAX_AGENT_MESSAGE_BYTES = 256 * 1024;

const SSH_MSG_USERAUTH_REQUEST = 50;

export class AgentProtocolError extends Error {}

export type AgentRequest = { kind: "identities" } | { kind: "sign"; keyBlob: Buffer; data: Buffer; flags: number } | { kind: "other"; type: number };

/** The key the agent holds for one connection: its blob, comment, and a signer (host side). */
export interface AgentIdentity {
  keyBlob: Buffer;
  comment: string;
  /** The signature blob (string algorithm, string signature) over `data`. */
  sign(data: Buffer): Buffer;
}

/** Cuts a byte stream into message bodies (type byte + contents), bounded. */
export class AgentMessageReader {
  #buffer: Buffer = Buffer.alloc(0);

  /** Bytes of a message begun but not complete (a deadline may hold a client to them). */
  get pending(): number {
    return this.#buffer.length;
  }

  /** The messages completed by `chunk`; throws AgentProtocolError on a bad length. */
  push(chunk: Buffer): Buffer[] {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    const messages: Buffer[] = [];
    while (this.#buffer.length >= 4) {
      const length = this.#buffer.readUInt32BE(0);
      if (length === 0 || length > MAX_AGENT_MESSAGE_BYTES) throw new AgentProtocolError(`an agent message of ${length} bytes`);
      if (this.#buffer.length < 4 + length) break;
      messages.push(this.#buffer.subarray(4, 4 + length));
      this.#buffer = this.#buffer.subarray(4 + length);
    }
    return messages;
  }
}

/** Reads SSH wire values from a buffer, refusing to read past its end. */
class WireReader {
  #offset = 0;
  constructor(private readonly bytes: Buffer) {}

  byte(): number {
    if (this.#offset + 1 > this.bytes.length) throw new AgentProtocolError("message ends early");
    const value = this.bytes[this.#offset] as number;
    this.#offset += 1;
    return value;
  }

  uint32(): number {
    if (this.#offset + 4 > this.bytes.length) throw new AgentProtocolError("message ends early");
    const value = this.bytes.readUInt32BE(this.#offset);
    this.#offset += 4;
    return value;
  }

  string(): Buffer {
    const length = this.uint32();
    if (this.#offset + length > this.bytes.length) throw new AgentProtocolError("a string runs past the message");
    const value = this.bytes.subarray(this.#offset, this.#offset + length);
    this.#offset += length;
    return value;
  }

  get done(): boolean {
    return this.#offset === this.bytes.length;
  }
}

/** One message body → what it asks; throws AgentProtocolError when malformed. */
export function parseAgentRequest(body: Buffer): AgentRequest {
  const reader = new WireReader(body);
  const type = reader.byte();
  if (type === AGENT_MESSAGE.REQUEST_IDENTITIES) {
    if (!reader.done) throw new AgentProtocolError("REQUEST_IDENTITIES carries no contents");
    return { kind: "identities" };
  }
  if (type === AGENT_MESSAGE.SIGN_REQUEST) {
    const keyBlob = reader.string();
    const data = reader.string();
    const flags = reader.uint32();
    if (!reader.done) throw new AgentProtocolError("bytes after a SIGN_REQUEST");
    return { kind: "sign", keyBlob, data, flags };
  }
  return { kind: "other", type };
}

/** A framed message: length, type, contents. */
export function agentMessage(type: number, contents: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + contents.length, 0);
  head.writeUInt8(type, 4);
  return Buffer.concat([head, contents]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/**
 * Is `data` what an SSH client signs to log in with `keyBlob` (RFC 4252 §7, and OpenSSH's
 * publickey-hostbound-v00 that adds the server's host key)? Anything else is refused.
 */
export function isUserAuthRequest(data: Buffer, keyBlob: Buffer): boolean {
  try {
    const reader = new WireReader(data);
    const sessionId = reader.string();
    if (sessionId.length < 16 || sessionId.length > 64) return false;
    if (reader.byte() !== SSH_MSG_USERAUTH_REQUEST) return false;
    reader.string(); // user name
    if (reader.string().toString("latin1") !== "ssh-connection") return false;
    const method = reader.string().toString("latin1");
    if (method !== "publickey" && method !== "publickey-hostbound-v00@openssh.com") return false;
    if (reader.byte() !== 1) return false;
    if (reader.string().toString("latin1") !== ED25519) return false;
    if (!reader.string().equals(keyBlob)) return false;
    if (method !== "publickey") reader.string(); // the server's host key
    return reader.done;
  } catch {
    return false;
  }
}

/** The answer to one request, with `identity` the only key this connection may use (null: none). */
export function answerAgentRequest(request: AgentRequest, identity: AgentIdentity | null): Buffer {
  if (request.kind === "identities") {
    const keys = identity ? [Buffer.concat([sshString(identity.keyBlob), sshString(identity.comment)])] : [];
    return agentMessage(AGENT_MESSAGE.IDENTITIES_ANSWER, Buffer.concat([uint32(keys.length), ...keys]));
  }
  if (request.kind === "sign" && identity && request.keyBlob.equals(identity.keyBlob) && isUserAuthRequest(request.data, identity.keyBlob)) {
    return agentMessage(AGENT_MESSAGE.SIGN_RESPONSE, sshString(identity.sign(request.data)));
  }
  return agentMessage(AGENT_MESSAGE.FAILURE);
}
