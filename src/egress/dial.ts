// Opens the egress proxy's upstream connections, safe against DNS rebinding: the host is
// resolved once, every address is classified, and the socket goes to a checked address
// itself. The hostname never reaches net.connect, so no second resolution can swap a public
// answer for 127.0.0.1 or 169.254.169.254 between the check and the connect.
//
// Limits: one budget (connectTimeoutMs) covers the lookup and all connection attempts;
// each attempt gets an equal share of what is left, so one black-holed address cannot
// starve the next. An abort rejects with the signal's reason (an AbortError), not a
// DialError: the caller asked for it.
import { promises as dns } from "node:dns";
import { connect as netConnect, type Socket } from "node:net";
import { networkInterfaces } from "node:os";
import { type AddressClass, type ClassifiedAddress, classifyAddress, hostKind } from "../domain/egress-addresses.ts";

export type LookupAll = (host: string) => Promise<{ address: string; family: 4 | 6 }[]>;

export interface DialOptions {
  host: string;
  port: number;
  /** A rule names this host exactly: non-public addresses may be dialled. */
  allowNonPublic: boolean;
  /** Default: dns.lookup with all: true, verbatim: true (the system resolver, /etc/hosts included). */
  lookup?: LookupAll;
  /** The host machine's own addresses, refused like loopback. Default: its interfaces, re-read every 30 s. */
  hostAddresses?: () => ReadonlySet<string>;
  /** Bounds the lookup and every connection attempt together. Default 10 s. */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  /** Test seam: how a socket is opened to an already checked address. Default net.connect. */
  connect?: (address: string, family: 4 | 6, port: number) => Socket;
}

export interface DialResult {
  socket: Socket;
  address: string;
  family: 4 | 6;
  addressClass: AddressClass;
}

export type DialErrorCode = "DNS_FAILED" | "NO_ADDRESS" | "ADDRESS_REFUSED" | "CONNECT_FAILED" | "CONNECT_TIMEOUT";

/** Why an upstream connection was not made; the message is one line, fit for the refusal an agent reads. */
export class DialError extends Error {
  readonly code: DialErrorCode;
  readonly host: string;
  readonly port: number;
  /** The address refused or last tried, when there was one. */
  readonly address?: string;
  readonly addressClass?: AddressClass;

  constructor(code: DialErrorCode, message: string, details: { host: string; port: number; address?: string; addressClass?: AddressClass; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = "DialError";
    this.code = code;
    this.host = details.host;
    this.port = details.port;
    this.address = details.address;
    this.addressClass = details.addressClass;
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const HOST_ADDRESSES_TTL_MS = 30_000;

const defaultLookup: LookupAll = async (host) => {
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  return answers.map(({ address, family }) => ({ address, family: family === 6 ? 6 : 4 }));
};

const defaultConnect = (address: string, family: 4 | 6, port: number): Socket =>
  // An IP literal as host: net.connect does not resolve it.
  netConnect({ host: address, port, family });

/**
 * The host's interface addresses, re-read at most every ttlMs (interfaces change rarely,
 * connections are many). Loopback addresses are left out: they are refused as "loopback"
 * already, which says more than "host".
 */
export function interfaceAddresses(ttlMs = HOST_ADDRESSES_TTL_MS, read = networkInterfaces, now = Date.now): () => ReadonlySet<string> {
  let cached: { at: number; addresses: ReadonlySet<string> } | undefined;
  return () => {
    if (cached && now() - cached.at < ttlMs) return cached.addresses;
    const addresses = new Set<string>();
    for (const entries of Object.values(read())) {
      for (const entry of entries ?? []) {
        if (classifyAddress(entry.address)?.class !== "loopback") addresses.add(entry.address);
      }
    }
    cached = { at: now(), addresses };
    return addresses;
  };
}

const defaultHostAddresses = interfaceAddresses();

/** Resolves, checks and connects; see the header for what "checked" guarantees. */
export async function dialChecked(options: DialOptions): Promise<DialResult> {
  const { host, port, signal } = options;
  const deadline = Date.now() + (options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  signal?.throwIfAborted();
  const candidates = await checkedAddresses(options, deadline);
  const connect = options.connect ?? defaultConnect;

  let lastError: unknown;
  const tried: string[] = [];
  for (const [index, candidate] of candidates.entries()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const share = Math.ceil(remaining / (candidates.length - index));
    tried.push(candidate.address);
    try {
      const socket = await connectWithin(() => connect(candidate.address, candidate.family, port), share, signal);
      socket.setNoDelay(true);
      return { socket, address: candidate.address, family: candidate.family, addressClass: candidate.class };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      lastError = error;
    }
  }
  const details = { host, port, address: tried.at(-1), cause: lastError };
  if (Date.now() >= deadline || lastError instanceof AttemptTimeout) {
    const budget = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    throw new DialError("CONNECT_TIMEOUT", `${host}:${port} did not answer within ${budget} ms (tried ${tried.join(", ") || "nothing"})`, details);
  }
  const reason = errorReason(lastError);
  throw new DialError("CONNECT_FAILED", `cannot connect to ${host}:${port} (tried ${tried.join(", ")}: ${reason})`, details);
}

/** The addresses this dial may use, in the resolver's order; throws when there are none. */
async function checkedAddresses(options: DialOptions, deadline: number): Promise<ClassifiedAddress[]> {
  const { host, port } = options;
  const hostAddresses = (options.hostAddresses ?? defaultHostAddresses)();
  const kind = hostKind(host);
  if (kind === "invalid") throw new DialError("ADDRESS_REFUSED", `'${host}' is neither a host name nor an IP address`, { host, port });

  let classified: ClassifiedAddress[];
  if (kind === "ip") {
    classified = [classifyAddress(host, hostAddresses)!];
  } else {
    const answers = await resolve(options, deadline);
    classified = answers.flatMap(({ address }) => classifyAddress(address, hostAddresses) ?? []);
    if (classified.length === 0) throw new DialError("NO_ADDRESS", `${host} resolves to no address`, { host, port });
  }

  const unique = [...new Map(classified.map((entry) => [entry.address, entry])).values()];
  const allowed = options.allowNonPublic ? unique : unique.filter((entry) => entry.class === "public");
  if (allowed.length > 0) return allowed;
  const first = unique[0]!;
  const listed = unique
    .slice(0, 3)
    .map((entry) => `${entry.address} (${entry.class})`)
    .join(", ");
  const more = unique.length > 3 ? ` and ${unique.length - 3} more` : "";
  const subject = kind === "ip" ? `${host} is ${first.class}${first.address === host ? "" : ` (${first.address})`}` : `${host} resolves to ${listed}${more}`;
  throw new DialError("ADDRESS_REFUSED", `${subject}; non-public addresses need an allow rule naming this host exactly`, {
    host,
    port,
    address: first.address,
    addressClass: first.class,
  });
}

async function resolve(options: DialOptions, deadline: number): Promise<{ address: string; family: 4 | 6 }[]> {
  const { host, port, signal } = options;
  const lookup = options.lookup ?? defaultLookup;
  try {
    // A lookup cannot be cancelled; on timeout or abort its late answer is ignored.
    return await within(lookup(host), deadline - Date.now(), signal);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (error instanceof AttemptTimeout) throw new DialError("DNS_FAILED", `looking up ${host} took longer than the dial allows`, { host, port });
    throw new DialError("DNS_FAILED", `cannot resolve ${host} (${errorReason(error)})`, { host, port, cause: error });
  }
}

class AttemptTimeout extends Error {}

/** ENOTFOUND, ECONNREFUSED …: the errno code says it in one word; else the message. */
function errorReason(error: unknown): string {
  if (error instanceof Error) return (error as NodeJS.ErrnoException).code ?? error.message;
  return String(error);
}

/** `promise`, or an AttemptTimeout after ms, or the abort reason; the timer and listener never outlive it. */
function within<T>(promise: Promise<T>, ms: number, signal: AbortSignal | undefined, onGiveUp?: () => void): Promise<T> {
  return new Promise<T>((resolvePromise, reject) => {
    const giveUp = (error: unknown) => {
      cleanup();
      onGiveUp?.();
      reject(error);
    };
    const onAbort = () => giveUp(signal?.reason);
    const timer = setTimeout(() => giveUp(new AttemptTimeout()), Math.max(0, ms));
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    };
    // Handled even after giving up, so a late failure is no unhandled rejection.
    promise.then(
      (value) => {
        cleanup();
        resolvePromise(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
    // An abort that came while `promise` was being created fires no event any more.
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One connection attempt: the connected socket, or an error with the socket destroyed. */
function connectWithin(open: () => Socket, ms: number, signal: AbortSignal | undefined): Promise<Socket> {
  signal?.throwIfAborted();
  const socket = open();
  const connected = new Promise<Socket>((resolvePromise, reject) => {
    // A seam may hand over a socket that is connected already.
    if (!socket.pending) return resolvePromise(socket);
    const onConnect = () => {
      socket.off("error", onError);
      resolvePromise(socket);
    };
    const onError = (error: Error) => {
      socket.off("connect", onConnect);
      reject(error);
    };
    socket.once("connect", onConnect);
    socket.once("error", onError);
  });
  return within(connected, ms, signal, () => socket.destroy()).catch((error: unknown) => {
    socket.destroy();
    throw error;
  });
}
