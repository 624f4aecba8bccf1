// Command-line arguments of the daemon. The first five are the driver's contract (see
// docs/supervisor-protocol.md, "Starting and stopping"); the rest are knobs (mostly for
// tests) with production defaults.
import { isAbsolute, resolve } from "node:path";
import { BRIDGE_KINDS, type BridgeKind } from "../link/preface.ts";
import { DEFAULT_LOG_CAP_BYTES } from "./processes/journal.ts";

/** Where the link is dialled: the local driver's unix socket, or Kubernetes' TLS endpoint. */
export type LinkAddress = { path: string } | { host: string; port: number };

/**
 * One way out inside the sandbox: a 127.0.0.1 port (or, for the ssh agent, a unix socket)
 * whose connections are carried to a unix socket of the control plane's (local driver) or
 * through the link's TLS endpoint with a bridge preface (Kubernetes).
 */
export interface BridgeSpec {
  listen: { port: number } | { path: string };
  to: { socketPath: string } | { link: BridgeKind };
}

export interface DaemonArgs {
  /** The control plane to dial (local driver: /run/outpost/link.sock; Kubernetes: tls://host:port). */
  link: LinkAddress;
  /** With a TLS link: the PEM file of the CA the endpoint's certificate must chain to. */
  linkCa?: string;
  /** File holding this sandbox's link token (read at every dial). */
  tokenFile: string;
  sandboxId: string;
  state: string;
  workspace: string;
  /** Between SIGTERM and SIGKILL when the supervisor stops its processes. */
  killGraceMs: number;
  /** Per-process log size after which output is dropped (see journal.ts). */
  logCapBytes: number;
  /** The sandbox's ways out (egress proxy, model gateway, database, ssh agent). */
  bridges: BridgeSpec[];
  /** Image sandboxes: the supervisor is root inside, and runs commands as this user unless
   *  asked for root (identity.ts). */
  runAs?: { uid: number; gid: number };
}

export const USAGE =
  "usage: supervisor --link <socket>|tls://<host>:<port> [--link-ca <pem file>] --token-file <path> --sandbox-id <id> --state <dir> --workspace <dir> [--kill-grace-ms <ms>] [--log-cap-bytes <bytes>] [--bridge <bridge>[,<bridge>…]] [--run-as <uid>:<gid>]\n" +
  "  --link-ca is required with a tls:// link: the CA its certificate must chain to (for the name or IP in the link).\n" +
  "  <bridge> is <port>=<socket path> (to a unix socket), <port>=link:proxy|gateway|database or\n" +
  "  <absolute path>=link:ssh-agent (through the tls:// link's endpoint).";

export function parseArgs(argv: string[]): DaemonArgs {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new Error(`unexpected argument '${arg}'`);
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new Error(`--${name} needs a value`);
    values.set(name, value);
  }
  const known = ["link", "link-ca", "token-file", "sandbox-id", "state", "workspace", "kill-grace-ms", "log-cap-bytes", "bridge", "run-as"];
  for (const name of values.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}`);
  const required = (name: string) => {
    const value = values.get(name);
    if (!value) throw new Error(`--${name} is required`);
    return value;
  };
  const path = (name: string) => {
    const value = required(name);
    return isAbsolute(value) ? value : resolve(value);
  };
  const count = (name: string, fallback: number) => {
    const value = values.get(name);
    if (value === undefined) return fallback;
    if (!/^\d+$/.test(value)) throw new Error(`--${name} must be a non-negative integer`);
    return Number(value);
  };
  const sandboxId = required("sandbox-id");
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/.test(sandboxId)) throw new Error("--sandbox-id must be 1–63 letters, digits, '_' or '-'");
  const link = parseLink(required("link"));
  const linkCa = values.get("link-ca");
  if ("host" in link && !linkCa) throw new Error("--link-ca is required with a tls:// link");
  if ("path" in link && linkCa !== undefined) throw new Error("--link-ca is only for a tls:// link");
  const bridges = parseBridges(values.get("bridge"));
  if ("path" in link && bridges.some((bridge) => "link" in bridge.to)) throw new Error("--bridge …=link:<kind> needs a tls:// link");
  return {
    link,
    ...(linkCa === undefined ? {} : { linkCa: path("link-ca") }),
    tokenFile: path("token-file"),
    sandboxId,
    state: path("state"),
    workspace: path("workspace"),
    killGraceMs: count("kill-grace-ms", 5000),
    logCapBytes: count("log-cap-bytes", DEFAULT_LOG_CAP_BYTES),
    bridges,
    runAs: parseRunAs(values.get("run-as")),
  };
}

function parseRunAs(value: string | undefined): { uid: number; gid: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,9}):(\d{1,9})$/.exec(value);
  if (!match || Number(match[1]) === 0) throw new Error(`--run-as wants <uid>:<gid> of a user other than root, got '${value}'`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

/** An absolute unix socket path, or tls://<host>:<port> (host: a DNS name, IPv4 or [IPv6]). */
function parseLink(value: string): LinkAddress {
  if (!value.startsWith("tls://")) return { path: isAbsolute(value) ? value : resolve(value) };
  const match = /^tls:\/\/(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65_535) throw new Error(`--link wants a socket path or tls://<host>:<port>, got '${value}'`);
  return { host: (match[1] ?? match[2]) as string, port };
}

function parseBridges(value: string | undefined): BridgeSpec[] {
  if (!value) return [];
  const portKinds = BRIDGE_KINDS.filter((kind) => kind !== "ssh-agent").join("|");
  return value.split(",").map((entry) => {
    const wrong = () => new Error(`--bridge wants <port>=<socket path>, <port>=link:${portKinds} or <path>=link:ssh-agent, got '${entry}'`);
    const agent = /^(\/[^=]+)=link:ssh-agent$/.exec(entry);
    if (agent) return { listen: { path: agent[1] as string }, to: { link: "ssh-agent" } };
    const match = /^(\d{1,5})=(?:(\/.+)|link:([a-z-]+))$/.exec(entry);
    const port = Number(match?.[1]);
    if (!match || port < 1 || port > 65_535) throw wrong();
    if (match[2]) return { listen: { port }, to: { socketPath: match[2] } };
    const kind = BRIDGE_KINDS.find((known) => known === match[3] && known !== "ssh-agent");
    if (!kind) throw wrong();
    return { listen: { port }, to: { link: kind } };
  });
}

/** How a link address reads in log lines. */
export function describeLink(link: LinkAddress): string {
  return "path" in link ? link.path : `tls://${link.host.includes(":") ? `[${link.host}]` : link.host}:${link.port}`;
}
