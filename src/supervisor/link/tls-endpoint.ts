// The control plane's end of supervisor links on Kubernetes: one TLS port that every
// sandbox's supervisor dials out to (pods need no inbound port, and a control plane outside
// the cluster works). The pod's NetworkPolicy lets it reach this port and nothing else, so
// its way out (egress proxy, model gateway, ssh agent, database) comes through here too.
// The first line of a connection decides what it is:
//   OUTPOST-LINK {hello}      a link: verified and answered by acceptLink, then HTTP/2;
//   OUTPOST-BRIDGE {…,kind}   one bridged connection: OK {}, then its bytes go to bridge().
// Both carry the sandbox's token, compared in constant time with tokenFor(sandboxId).
//
// Anyone who can reach the port can connect, so everything before a verified preface is
// bounded: a deadline for the TLS handshake and the first line, another for the token
// lookup, and caps on unverified connections overall and per remote address (a hostile
// pod cannot crowd out the others). After verification a sandbox may hold as many
// connections as on the local driver (limits.ts). TLS 1.3 only, no client certificates:
// the token is the sandbox's proof, the CA-signed certificate the control plane's.
import { timingSafeEqual } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { createSecureContext, type SecureContext, TLSSocket } from "node:tls";
import { acceptLink, type LinkRefusal, LinkRefusedError } from "./accept.ts";
import { MAX_LINK_CONNECTIONS_PER_SANDBOX, maxWayOutConnections } from "./limits.ts";
import {
  type BridgeKind,
  formatAnswer,
  formatBridgeAnswer,
  HELLO_TIMEOUT_MS,
  type Hello,
  LINK_ALPN,
  PrefaceError,
  PrefaceReader,
  parseBridgeHello,
  parseHello,
  prefaceKind,
} from "./preface.ts";
import type { LinkRegistry } from "./registry.ts";

export interface EndpointLimits {
  /** From the TCP connection to its first line, TLS handshake included (ms). */
  prefaceTimeoutMs: number;
  /** How long tokenFor may take before the connection is refused (ms). */
  tokenTimeoutMs: number;
  /** Connections not verified yet, all peers together. */
  maxUnverified: number;
  /** Connections not verified yet from one remote address. */
  maxUnverifiedPerAddress: number;
}

export const DEFAULT_ENDPOINT_LIMITS: EndpointLimits = {
  prefaceTimeoutMs: HELLO_TIMEOUT_MS,
  tokenTimeoutMs: 5000,
  maxUnverified: 256,
  maxUnverifiedPerAddress: 32,
};

export interface LinkEndpointOptions {
  /** Listen address (port 0: any free port). */
  host: string;
  port: number;
  /**
   * TLS identity: a SecureContext per SNI name (CertificateAuthority.contextFor). A client
   * that sends no SNI (it dialled an IP address) gets the one for the address it reached.
   * The name comes from the peer: throw for a name this endpoint does not serve (the
   * handshake then fails) rather than sign certificates for whatever a peer asks.
   */
  contextFor(servername: string): SecureContext;
  registry: LinkRegistry;
  /** The token this sandbox's supervisor must present, or null for a sandbox this control
   *  plane does not know (refused LINK_WRONG_SANDBOX). May throw or be slow: bounded. */
  tokenFor(sandboxId: string): Buffer | null | Promise<Buffer | null>;
  /** Carries one bridged connection (after it was verified). The socket is paused: reading
   *  it resumes it. It counts against the sandbox's cap for `kind` until it closes. */
  bridge?(kind: BridgeKind, sandboxId: string, socket: Socket): void;
  log(message: string): void;
  /** Defaults: DEFAULT_ENDPOINT_LIMITS (tests use small numbers). */
  limits?: Partial<EndpointLimits>;
}

/** One accepted connection before it is verified. */
interface Pending {
  socket: TLSSocket;
  /** True once the connection closed: a late token lookup then does nothing. */
  closed: boolean;
  /** Stops counting it as unverified (idempotent). */
  verified(): void;
  /** Counts it, verified, under `key` ("<sandbox> <kind>") until it closes. */
  hold(key: string): void;
}

const UNAVAILABLE = Symbol("token lookup failed");
/** The same log line (per sandbox and cause) at most this often: peers choose how often it happens. */
const LOG_INTERVAL_MS = 60_000;
/** After a NO line, how long a peer that does not read it may keep the connection. */
const REFUSAL_LINGER_MS = 1000;

export class LinkEndpoint {
  readonly #options: LinkEndpointOptions;
  readonly #limits: EndpointLimits;
  readonly #server: Server;
  /** Every connection still open, so close() can end them. */
  readonly #open = new Set<Socket>();
  /** Unverified connections per remote address. */
  readonly #unverified = new Tally();
  /** Verified connections per "<sandbox> <kind>" (kind "link" for links). */
  readonly #verified = new Tally();
  readonly #logged = new Map<string, number>();

  constructor(options: LinkEndpointOptions) {
    this.#options = options;
    this.#limits = { ...DEFAULT_ENDPOINT_LIMITS, ...options.limits };
    // Half-open allowed: a bridged client that is done sending still gets its answer.
    this.#server = createServer({ allowHalfOpen: true }, (raw) => this.#admit(raw));
  }

  listen(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen({ host: this.#options.host, port: this.#options.port }, () => {
        this.#server.off("error", reject);
        this.#server.on("error", (error) => this.#options.log(`link endpoint: ${error.message}`));
        const address = this.#server.address();
        resolve({ port: typeof address === "object" && address ? address.port : this.#options.port });
      });
    });
  }

  /** Stops listening and ends every connection it accepted (links and bridges too). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#open) socket.destroy();
    await closed;
  }

  #admit(raw: Socket): void {
    raw.on("error", () => {});
    const address = plainAddress(raw.remoteAddress);
    if (!address || this.#unverified.total >= this.#limits.maxUnverified || this.#unverified.count(address) >= this.#limits.maxUnverifiedPerAddress) {
      raw.destroy();
      return;
    }
    let context: SecureContext;
    try {
      context = this.#options.contextFor(plainAddress(raw.localAddress) ?? "localhost");
    } catch {
      // Not a name this endpoint serves: clients that send SNI still get theirs.
      noIdentity ??= createSecureContext({ minVersion: "TLSv1.3" });
      context = noIdentity;
    }
    this.#unverified.add(address);
    let counted = true;
    let held: string | undefined;
    const socket = new TLSSocket(raw, {
      isServer: true,
      secureContext: context,
      SNICallback: (servername, done) => {
        try {
          done(null, this.#options.contextFor(servername));
        } catch (error) {
          done(error as Error);
        }
      },
      ALPNProtocols: [LINK_ALPN],
      requestCert: false,
      rejectUnauthorized: false,
    });
    const deadline = setTimeout(() => {
      if (socket.getProtocol()) refuse(socket, "LINK_HELLO_TIMEOUT", `no preface within ${this.#limits.prefaceTimeoutMs} ms`);
      else socket.destroy();
    }, this.#limits.prefaceTimeoutMs);
    const pending: Pending = {
      socket,
      closed: false,
      verified: () => {
        clearTimeout(deadline);
        if (counted) this.#unverified.remove(address);
        counted = false;
      },
      hold: (key) => {
        if (pending.closed) return;
        held = key;
        this.#verified.add(key);
      },
    };
    this.#open.add(socket);
    socket.on("error", () => {});
    // One listener for all the bookkeeping: a bridged socket gets many more from whoever
    // pipes it, and node warns past ten.
    socket.once("close", () => {
      pending.closed = true;
      pending.verified();
      if (held) this.#verified.remove(held);
      this.#open.delete(socket);
      raw.destroy();
    });
    // The CA's contexts allow TLS 1.2 too, and one chosen by SNI cannot change the versions
    // a connection accepts; so TLS 1.3 is checked once the handshake is done.
    socket.once("secure", () => {
      if (socket.getProtocol() !== "TLSv1.3") return socket.destroy();
      // What tls.Server does for the sockets it makes: HTTP/2 (the link's session) waits
      // for a 'secureConnect' that a server-side socket never emits while this is true.
      (socket as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
    });
    const reader = new PrefaceReader();
    const onData = (chunk: Buffer) => {
      let got: ReturnType<PrefaceReader["push"]>;
      try {
        got = reader.push(chunk);
      } catch (error) {
        return refuse(socket, "LINK_BAD_HELLO", error instanceof PrefaceError ? error.message : "unreadable preface");
      }
      if (!got) return;
      clearTimeout(deadline);
      socket.off("data", onData);
      socket.pause();
      const kind = prefaceKind(got.line);
      if (kind === "link") void this.#link(pending, got.line, got.rest);
      else if (kind === "bridge") void this.#bridge(pending, got.line, got.rest);
      else refuse(socket, "LINK_BAD_HELLO", "expected 'OUTPOST-LINK {…}' or 'OUTPOST-BRIDGE {…}'");
    };
    socket.on("data", onData);
  }

  async #link(pending: Pending, line: string, rest: Buffer): Promise<void> {
    const { socket } = pending;
    let hello: Hello;
    try {
      hello = parseHello(line);
    } catch (error) {
      return refuse(socket, "LINK_BAD_HELLO", (error as PrefaceError).message);
    }
    const token = await this.#tokenFor(hello.sandboxId);
    if (pending.closed) return;
    if (token === UNAVAILABLE) return refuse(socket, "LINK_UNAVAILABLE", "the control plane cannot check the token now; dial again");
    const sandboxId = hello.sandboxId;
    // acceptLink reads the hello again and does the rest: verify, pick the protocol, answer.
    socket.unshift(Buffer.concat([Buffer.from(`${line}\n`), rest]));
    const accepting = acceptLink(socket, {
      timeoutMs: this.#limits.prefaceTimeoutMs,
      verify: (said): LinkRefusal | null => {
        if (!token) return { code: "LINK_WRONG_SANDBOX", message: "no such sandbox here", claimed: said.sandboxId };
        if (!tokenMatches(said.token, token)) {
          return { code: "LINK_BAD_TOKEN", message: "the link token does not match this sandbox's", claimed: sandboxId };
        }
        if (this.#verified.count(`${sandboxId} link`) >= MAX_LINK_CONNECTIONS_PER_SANDBOX) {
          return { code: "LINK_TOO_MANY_CONNECTIONS", message: `at most ${MAX_LINK_CONNECTIONS_PER_SANDBOX} links per sandbox`, claimed: sandboxId };
        }
        return null;
      },
    });
    socket.resume();
    accepting.then(
      (session) => {
        pending.verified();
        pending.hold(`${sandboxId} link`);
        // A link is never half-closed: the supervisor's end (a crash, a killed pod) is the
        // link's end. The listener allows half-open sockets for bridges, so without this a
        // dead supervisor's link would stay until the next ping went unanswered.
        if (socket.readableEnded) socket.destroy();
        else socket.once("end", () => socket.destroy());
        this.#options.registry.attach(session);
      },
      (error) => {
        if (!(error instanceof LinkRefusedError)) return;
        // Refusals of a sandbox this control plane does not know belong to no one.
        if (!token) return this.#logBounded("unknown", `refused a link for ${sandboxId}, which this control plane does not know`);
        this.#logBounded(`${error.refusal.code} ${sandboxId}`, `refused a link of ${sandboxId}: ${error.refusal.code}`);
        this.#options.registry.refused(sandboxId, error.refusal);
      },
    );
  }

  async #bridge(pending: Pending, line: string, rest: Buffer): Promise<void> {
    const { socket } = pending;
    let sandboxId: string;
    let kind: BridgeKind;
    let offered: string;
    try {
      ({ sandboxId, kind, token: offered } = parseBridgeHello(line));
    } catch (error) {
      return refuse(socket, "LINK_BAD_HELLO", (error as PrefaceError).message);
    }
    const token = await this.#tokenFor(sandboxId);
    if (pending.closed) return;
    if (token === UNAVAILABLE) return refuse(socket, "LINK_UNAVAILABLE", "the control plane cannot check the token now; try again");
    if (!token) return refuse(socket, "LINK_WRONG_SANDBOX", "no such sandbox here");
    if (!tokenMatches(offered, token)) {
      this.#logBounded(`bridge-token ${sandboxId}`, `refused a ${kind} bridge of ${sandboxId}: LINK_BAD_TOKEN`);
      return refuse(socket, "LINK_BAD_TOKEN", "the link token does not match this sandbox's");
    }
    const bridge = this.#options.bridge;
    if (!bridge) return refuse(socket, "LINK_BRIDGE_UNAVAILABLE", "this control plane carries no bridged connections");
    const key = `${sandboxId} ${kind}`;
    const cap = maxWayOutConnections(kind);
    if (this.#verified.count(key) >= cap) {
      this.#logBounded(`bridge-cap ${key}`, `refused a ${kind} bridge of ${sandboxId}: ${cap} are open already`);
      return refuse(socket, "LINK_BRIDGE_LIMIT", `at most ${cap} ${kind} connections per sandbox`);
    }
    pending.verified();
    pending.hold(key);
    socket.write(formatBridgeAnswer({ ok: true }));
    if (rest.length) socket.unshift(rest);
    try {
      bridge(kind, sandboxId, socket);
    } catch (error) {
      this.#options.log(`${kind} bridge of ${sandboxId} failed: ${(error as Error).message}`);
      socket.destroy();
    }
  }

  /** The sandbox's token; UNAVAILABLE when the lookup throws or outlasts its deadline. */
  async #tokenFor(sandboxId: string): Promise<Buffer | null | typeof UNAVAILABLE> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof UNAVAILABLE>((resolve) => {
      timer = setTimeout(() => {
        this.#logBounded("token-timeout", `looking up the link token of ${sandboxId} took over ${this.#limits.tokenTimeoutMs} ms`);
        resolve(UNAVAILABLE);
      }, this.#limits.tokenTimeoutMs);
    });
    try {
      return await Promise.race([Promise.resolve().then(() => this.#options.tokenFor(sandboxId)), late]);
    } catch (error) {
      this.#logBounded("token-error", `looking up the link token of ${sandboxId} failed: ${error instanceof Error ? error.message : String(error)}`);
      return UNAVAILABLE;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs `message` unless the same `key` was logged within LOG_INTERVAL_MS. */
  #logBounded(key: string, message: string): void {
    const now = Date.now();
    const last = this.#logged.get(key);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return;
    if (this.#logged.size >= 1000) this.#logged.clear();
    this.#logged.set(key, now);
    this.#options.log(message);
  }
}

/** The first context of a connection that reached an address contextFor refuses to serve. */
let noIdentity: SecureContext | undefined;

/** Answers NO and closes; a peer that does not read the answer is cut off soon after. */
function refuse(socket: TLSSocket, code: string, message: string): void {
  if (socket.destroyed) return;
  socket.end(formatAnswer({ ok: false, code, message }));
  socket.destroySoon();
  setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
}

function tokenMatches(offered: string, expected: Buffer): boolean {
  const bytes = Buffer.from(offered);
  return bytes.length === expected.length && timingSafeEqual(bytes, expected);
}

/** An address as people (and certificates) write it: IPv4 clients of a dual-stack socket
 *  arrive as ::ffff:a.b.c.d. */
function plainAddress(address: string | undefined): string | undefined {
  return address?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
}

/** Counts by key, and in all. */
class Tally {
  readonly #counts = new Map<string, number>();
  total = 0;

  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }

  add(key: string): void {
    this.#counts.set(key, this.count(key) + 1);
    this.total++;
  }

  remove(key: string): void {
    const left = this.count(key) - 1;
    if (left > 0) this.#counts.set(key, left);
    else this.#counts.delete(key);
    this.total--;
  }
}
