// The first bytes on a supervisor link, before HTTP/2 takes over (see
// docs/supervisor-protocol.md, "The link"). The supervisor dials out and introduces itself
// with one line; the control plane answers with one line and, on OK, becomes the HTTP/2
// client of the connection while the supervisor serves HTTP/2 on it.
//   supervisor → control plane:  OUTPOST-LINK {"sandboxId":…,"token":…,"protocols":[2],…}\n
//   control plane → supervisor:  OK {"protocol":2}\n   or   NO {"code":…,"message":…}\n
// On Kubernetes the supervisor also reaches its way out (egress proxy, model gateway, ssh
// agent, database) through the control plane's link endpoint: each such connection opens
// with a bridge line instead of a hello, and after OK carries that service's bytes:
//   supervisor → control plane:  OUTPOST-BRIDGE {"sandboxId":…,"token":…,"kind":"proxy"}\n
//   control plane → supervisor:  OK {}\n   or   NO {"code":…,"message":…}\n
// Pure (Buffer and JSON only): bundled into the supervisor and imported by the control plane.
// Both sides bound the line (MAX_PREFACE_BYTES) and check every field by hand, so this file
// stays free of dependencies and cheap to load on the sandbox's start path.

export const HELLO_WORD = "OUTPOST-LINK";
export const BRIDGE_WORD = "OUTPOST-BRIDGE";
/** The ALPN name both ends of a TLS link offer: nothing else (HTTP/1.1, h2) can be
 *  mistaken for a link, and the supervisor's HTTP/2 server accepts the TLS connection. */
export const LINK_ALPN = "outpost-link";
/** A hello or answer line longer than this is refused (the connection is dropped). */
export const MAX_PREFACE_BYTES = 4096;
/** How long the control plane waits for a hello after a connection was accepted (ms). */
export const HELLO_TIMEOUT_MS = 5000;

export interface Hello {
  /** The sandbox this supervisor belongs to (its driver checks it against the socket or token). */
  sandboxId: string;
  /** Proves the sandbox: the per-sandbox secret its driver gave it. */
  token: string;
  /** Major protocol versions this supervisor speaks, any order. */
  protocols: number[];
  supervisorVersion: string;
  /** Optional features the supervisor offers (e.g. "pty", "tunnel", "frames"). */
  capabilities: string[];
  /** The supervisor's pid inside the sandbox. */
  pid: number;
}

export type Answer = { ok: true; protocol: number } | Refusal;
export type Refusal = { ok: false; code: string; message: string };

/** What a bridged connection carries: which of the control plane's services it reaches. */
export const BRIDGE_KINDS = ["proxy", "gateway", "ssh-agent", "database"] as const;
export type BridgeKind = (typeof BRIDGE_KINDS)[number];

export interface BridgeHello {
  sandboxId: string;
  /** The same per-sandbox token as the link's hello. */
  token: string;
  kind: BridgeKind;
}

export type BridgeAnswer = { ok: true } | Refusal;

const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;
const WORD = /^[a-z][a-z0-9-]{0,31}$/;
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function formatHello(hello: Hello): string {
  return `${HELLO_WORD} ${JSON.stringify(hello)}\n`;
}

export function formatAnswer(answer: Answer): string {
  return answer.ok ? `OK ${JSON.stringify({ protocol: answer.protocol })}\n` : `NO ${JSON.stringify({ code: answer.code, message: answer.message })}\n`;
}

export function formatBridgeHello(hello: BridgeHello): string {
  return `${BRIDGE_WORD} ${JSON.stringify({ sandboxId: hello.sandboxId, token: hello.token, kind: hello.kind })}\n`;
}

export function formatBridgeAnswer(answer: BridgeAnswer): string {
  return answer.ok ? "OK {}\n" : formatAnswer(answer);
}

/** Which preface a first line is, by its first word (null: neither). */
export function prefaceKind(line: string): "link" | "bridge" | null {
  if (line.startsWith(`${HELLO_WORD} `)) return "link";
  if (line.startsWith(`${BRIDGE_WORD} `)) return "bridge";
  return null;
}

export class PrefaceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PrefaceError";
  }
}

function jsonAfter(line: string, word: string): Record<string, unknown> {
  if (!line.startsWith(`${word} `)) throw new PrefaceError(`expected '${word} {…}'`);
  let value: unknown;
  try {
    value = JSON.parse(line.slice(word.length + 1));
  } catch {
    throw new PrefaceError("the preface is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PrefaceError("the preface is not a JSON object");
  return value as Record<string, unknown>;
}

const isSmallInt = (value: unknown, max: number): value is number => typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= max;

/** Parses and checks a supervisor's hello line (without its newline). Throws PrefaceError. */
export function parseHello(line: string): Hello {
  const value = jsonAfter(line, HELLO_WORD);
  const { sandboxId, token, protocols, supervisorVersion, capabilities = [], pid } = value;
  if (typeof sandboxId !== "string" || !SANDBOX_ID.test(sandboxId)) throw new PrefaceError("hello: bad sandboxId");
  if (typeof token !== "string" || !TOKEN.test(token)) throw new PrefaceError("hello: bad token");
  if (!Array.isArray(protocols) || protocols.length === 0 || protocols.length > 16 || !protocols.every((p) => isSmallInt(p, 1000))) {
    throw new PrefaceError("hello: protocols must be 1–16 integers");
  }
  if (typeof supervisorVersion !== "string" || supervisorVersion.length > 64) throw new PrefaceError("hello: bad supervisorVersion");
  if (!Array.isArray(capabilities) || capabilities.length > 64 || !capabilities.every((c) => typeof c === "string" && WORD.test(c))) {
    throw new PrefaceError("hello: capabilities must be up to 64 lowercase words");
  }
  if (!isSmallInt(pid, 4_194_304)) throw new PrefaceError("hello: bad pid");
  return { sandboxId, token, protocols: protocols as number[], supervisorVersion, capabilities: capabilities as string[], pid };
}

/** Parses a supervisor's bridge line (without its newline). Throws PrefaceError. */
export function parseBridgeHello(line: string): BridgeHello {
  const { sandboxId, token, kind } = jsonAfter(line, BRIDGE_WORD);
  if (typeof sandboxId !== "string" || !SANDBOX_ID.test(sandboxId)) throw new PrefaceError("bridge: bad sandboxId");
  if (typeof token !== "string" || !TOKEN.test(token)) throw new PrefaceError("bridge: bad token");
  if (typeof kind !== "string" || !(BRIDGE_KINDS as readonly string[]).includes(kind)) {
    throw new PrefaceError(`bridge: kind must be one of ${BRIDGE_KINDS.join(", ")}`);
  }
  return { sandboxId, token, kind: kind as BridgeKind };
}

/** Parses the control plane's answer line (without its newline). Throws PrefaceError. */
export function parseAnswer(line: string): Answer {
  if (line.startsWith("OK ")) {
    const { protocol } = jsonAfter(line, "OK");
    if (!isSmallInt(protocol, 1000)) throw new PrefaceError("answer: bad protocol");
    return { ok: true, protocol };
  }
  return parseRefusal(line);
}

/** Parses the control plane's answer to a bridge line (without its newline). Throws PrefaceError. */
export function parseBridgeAnswer(line: string): BridgeAnswer {
  if (line.startsWith("OK ")) {
    jsonAfter(line, "OK");
    return { ok: true };
  }
  return parseRefusal(line);
}

/** A NO line: its code when well formed (else LINK_REFUSED) and a bounded message. */
function parseRefusal(line: string): Refusal {
  const { code, message } = jsonAfter(line, "NO");
  return {
    ok: false,
    code: typeof code === "string" && CODE.test(code) ? code : "LINK_REFUSED",
    message: typeof message === "string" ? message.slice(0, 500) : "refused",
  };
}

/** The highest protocol both sides speak, or null. */
export function pickProtocol(ours: readonly number[], theirs: readonly number[]): number | null {
  const common = theirs.filter((p) => ours.includes(p));
  return common.length ? Math.max(...common) : null;
}

/**
 * Collects bytes until the first newline, bounded. push() returns the line and whatever
 * followed it (the start of the HTTP/2 stream, to hand back to the socket), or null while
 * the line is incomplete; it throws PrefaceError past MAX_PREFACE_BYTES.
 */
export class PrefaceReader {
  #chunks: Buffer[] = [];
  #size = 0;

  push(chunk: Buffer): { line: string; rest: Buffer } | null {
    const newline = chunk.indexOf(10);
    if (newline === -1) {
      this.#size += chunk.length;
      if (this.#size > MAX_PREFACE_BYTES) throw new PrefaceError(`the preface is longer than ${MAX_PREFACE_BYTES} bytes`);
      this.#chunks.push(chunk);
      return null;
    }
    if (this.#size + newline > MAX_PREFACE_BYTES) throw new PrefaceError(`the preface is longer than ${MAX_PREFACE_BYTES} bytes`);
    const line = Buffer.concat([...this.#chunks, chunk.subarray(0, newline)]).toString("utf8");
    return { line, rest: chunk.subarray(newline + 1) };
  }
}
