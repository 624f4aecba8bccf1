// What kind of address an egress connection would reach (pure). The egress proxy dials only
// "public" addresses unless a rule names the host exactly; everything else here is a way
// into the host, its network or a cloud's metadata service, and is refused by default.
//
// Two entry points with one parser, so they can never disagree:
//   classifyAddress  an address (usually one a resolver returned) → its class
//   hostKind         a host as a sandbox wrote it → an IP literal, a name to resolve, or
//                    neither (malformed, or numeric-looking yet no valid address)
//
// IPv4 literals are read the way inet_aton and the WHATWG URL parser read them
// (`2130706433`, `0177.0.0.1`, `0x7f.1` all mean 127.0.0.1), because that is what a
// client library inside the sandbox would connect to. A host whose last label is a number
// but that is not a valid address (`08.0.0.1`, `1.2.3.4.5`, `example.123`) is "invalid",
// never a name to resolve: a resolver might read it as an address we did not check.
// Safety does not rest on this parser alone: the dialler connects to the canonical address
// it classified, never to the text it was given.
import ipaddr from "ipaddr.js";

export type AddressClass =
  | "public"
  | "loopback"
  | "link-local"
  | "private"
  | "carrier-grade-nat"
  | "unique-local"
  | "unspecified"
  | "multicast"
  | "broadcast"
  | "reserved"
  /** One of the host machine's own interface addresses. */
  | "host";

export interface ClassifiedAddress {
  /** Canonical text: dotted quad, or RFC 5952 IPv6 (with `%zone` when it had one). IPv4-mapped IPv6 becomes the IPv4 address. */
  address: string;
  family: 4 | 6;
  class: AddressClass;
}

type IPv4 = ipaddr.IPv4;
type IPv6 = ipaddr.IPv6;

interface ParsedAddress {
  ip: IPv4 | IPv6;
  zone?: string;
}

/** Lower case, without [] around an IPv6 literal or a trailing dot; IP literals in canonical form. */
export function normaliseHost(host: string): string {
  const parsed = parseLiteral(host);
  if (parsed) return canonical(parsed).address;
  return stripHost(host).toLowerCase();
}

/** Is this host an IPv4 or IPv6 literal (in any spelling a resolver accepts, [] optional)? */
export function isHostLiteral(host: string): boolean {
  return parseLiteral(host) !== null;
}

export type HostKind = "ip" | "name" | "invalid";

/**
 * "invalid": empty, characters no hostname has, empty labels, or a last label that is a
 * number although the whole is no valid IPv4 address (the WHATWG URL rule).
 */
export function hostKind(host: string): HostKind {
  if (parseLiteral(host)) return "ip";
  // Brackets are for IPv6 literals only: `[example.com]` is no host.
  const trimmed = host.trim();
  const bare = trimmed.endsWith(".") ? trimmed.slice(0, -1) : trimmed;
  // Letters, digits, - and _ (SRV-style labels) in dot-separated labels; nothing else reaches a resolver.
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i.test(bare)) return "invalid";
  const lastLabel = bare.slice(bare.lastIndexOf(".") + 1);
  return /^(\d+|0x[0-9a-f]*)$/i.test(lastLabel) ? "invalid" : "name";
}

/**
 * The class of an IP address, or null when `ip` is not an IP literal. Addresses that embed
 * an IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by it.
 * `host` wins when the address (or the IPv4 address it embeds) is one of hostAddresses.
 */
export function classifyAddress(ip: string, hostAddresses: ReadonlySet<string> = new Set()): ClassifiedAddress | null {
  const parsed = parseLiteral(ip);
  if (!parsed) return null;
  const { address, family } = canonical(parsed);
  if (isHostAddress(parsed.ip, hostAddresses)) return { address, family, class: "host" };
  const cls = parsed.ip.kind() === "ipv4" ? classifyV4(parsed.ip as IPv4) : classifyV6(parsed.ip as IPv6);
  // A zone makes an address meaningful on one link only: never public.
  return { address, family, class: parsed.zone !== undefined && cls === "public" ? "link-local" : cls };
}

function stripHost(host: string): string {
  const trimmed = host.trim();
  const bare = trimmed.startsWith("[") && trimmed.endsWith("]") ? trimmed.slice(1, -1) : trimmed;
  return bare.endsWith(".") ? bare.slice(0, -1) : bare;
}

function parseLiteral(host: string): ParsedAddress | null {
  const bare = stripHost(host);
  // Most hosts are names: ipaddr.js finds that out by throwing, ~10 µs a call on the
  // proxy's path. No IPv6 literal lacks a ':'; IPv4 spellings use only these characters.
  if (!bare.includes(":") && !/^[0-9a-fx.]+$/i.test(bare)) return null;
  const percent = bare.indexOf("%");
  if (percent !== -1) {
    // ipaddr.js accepts only [0-9a-z] zones; Linux interface names also use . _ -
    const zone = bare.slice(percent + 1);
    const ip = parseV6(bare.slice(0, percent));
    return ip && /^[\w.-]+$/.test(zone) ? { ip, zone } : null;
  }
  const ip = parseV6(bare) ?? (ipaddr.IPv4.isValid(bare) ? ipaddr.IPv4.parse(bare) : null);
  return ip ? { ip } : null;
}

function parseV6(text: string): IPv6 | null {
  // ipaddr.js reads `::a.b.c.d` as IPv4-mapped; inet_pton (what a client connects to)
  // reads it as IPv4-compatible, ::a.b.c.d with no ffff.
  const compatible = /^::(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (compatible !== undefined) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(compatible)) return null;
    const [a, b, c, d] = ipaddr.IPv4.parse(compatible).octets as [number, number, number, number];
    return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, (a << 8) | b, (c << 8) | d]);
  }
  return ipaddr.IPv6.isValid(text) ? ipaddr.IPv6.parse(text) : null;
}

function canonical({ ip, zone }: ParsedAddress): { address: string; family: 4 | 6 } {
  if (ip.kind() === "ipv4") return { address: ip.toString(), family: 4 };
  const v6 = ip as IPv6;
  // The kernel sends ::ffff:a.b.c.d as plain IPv4: report (and dial) what it really is.
  if (v6.isIPv4MappedAddress() && zone === undefined) return { address: v6.toIPv4Address().toString(), family: 4 };
  const text = v6.toRFC5952String();
  return { address: zone === undefined ? text : `${text}%${zone}`, family: 6 };
}

const V4_CLASSES: Partial<Record<string, AddressClass>> = {
  unicast: "public",
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade-nat",
  private: "private",
};

function classifyV4(ip: IPv4): AddressClass {
  // Whatever ipaddr.js does not call unicast (documentation, benchmarking, 240/4, AS112 …) is reserved.
  return V4_CLASSES[ip.range()] ?? "reserved";
}

const V6_CLASSES: Partial<Record<string, AddressClass>> = {
  unspecified: "unspecified",
  loopback: "loopback",
  linkLocal: "link-local",
  multicast: "multicast",
  uniqueLocal: "unique-local",
  // fec0::/10, the site-local range unique-local addresses replaced.
  deprecatedSiteLocal: "unique-local",
};

function classifyV6(ip: IPv6): AddressClass {
  const range = ip.range();
  const known = V6_CLASSES[range];
  if (known) return known;
  const embedded = embeddedV4(ip);
  if (embedded) {
    const inner = classifyV4(embedded.v4);
    // Mapped and NAT64 addresses reach exactly their IPv4 address; the tunnelling schemes
    // (compatible, 6to4, Teredo) are retired, so they are public only through a rule.
    return inner !== "public" || embedded.exact ? inner : "reserved";
  }
  // Only 2000::/3 is allocated for global unicast; the rest of "unicast" is unassigned.
  if (range === "unicast" && ip.parts[0]! >>> 13 === 1) return "public";
  return "reserved";
}

function v4FromParts(high: number, low: number): IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** The IPv4 address an IPv6 address carries, and whether traffic goes to exactly that address. */
function embeddedV4(ip: IPv6): { v4: IPv4; exact: boolean } | null {
  const p = ip.parts as [number, number, number, number, number, number, number, number];
  const zeros = (from: number, to: number) => p.slice(from, to).every((part) => part === 0);
  // ::ffff:0:0/96 (mapped) and ::ffff:0:0:0/96 (SIIT, RFC 6145)
  if (zeros(0, 5) && p[5] === 0xffff) return { v4: v4FromParts(p[6], p[7]), exact: true };
  if (zeros(0, 4) && p[4] === 0xffff && p[5] === 0) return { v4: v4FromParts(p[6], p[7]), exact: true };
  // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052): DNS64 networks answer with it.
  if (p[0] === 0x64 && p[1] === 0xff9b && zeros(2, 6)) return { v4: v4FromParts(p[6], p[7]), exact: true };
  // ::a.b.c.d, IPv4-compatible (deprecated); :: and ::1 were classified before.
  if (zeros(0, 6)) return { v4: v4FromParts(p[6], p[7]), exact: false };
  // 2002:aabb:ccdd::/48, 6to4
  if (p[0] === 0x2002) return { v4: v4FromParts(p[1], p[2]), exact: false };
  // 2001:0::/32, Teredo: the client's address is stored inverted in the last 32 bits.
  if (p[0] === 0x2001 && p[1] === 0) {
    const client = v4FromParts(p[6] ^ 0xffff, p[7] ^ 0xffff);
    const server = v4FromParts(p[2], p[3]);
    return { v4: classifyV4(client) !== "public" ? client : server, exact: false };
  }
  return null;
}

/** Host addresses compared in canonical form, so `::FFFF:10.0.0.1` matches `10.0.0.1`. */
function isHostAddress(ip: IPv4 | IPv6, hostAddresses: ReadonlySet<string>): boolean {
  if (hostAddresses.size === 0) return false;
  const keys = new Set<string>([canonical({ ip }).address]);
  if (ip.kind() === "ipv6") {
    const embedded = embeddedV4(ip as IPv6);
    if (embedded) keys.add(embedded.v4.toString());
  }
  for (const entry of hostAddresses) {
    const parsed = parseLiteral(entry);
    if (parsed && keys.has(canonical({ ip: parsed.ip }).address)) return true;
  }
  return false;
}
