// Command-line arguments of the daemon. The first five are the driver's contract (see
// docs/supervisor-protocol.md, "Starting and stopping"); the rest are knobs (mostly for
// tests) with production defaults.
import { isAbsolute, resolve } from "node:path";
import { DEFAULT_LOG_CAP_BYTES } from "./processes/journal.ts";

export interface DaemonArgs {
  /** The control plane's socket to dial (local driver: /run/outpost/link.sock). */
  link: string;
  /** File holding this sandbox's link token (read at every dial). */
  tokenFile: string;
  sandboxId: string;
  state: string;
  workspace: string;
  /** Between SIGTERM and SIGKILL when the supervisor stops its processes. */
  killGraceMs: number;
  /** Per-process log size after which output is dropped (see journal.ts). */
  logCapBytes: number;
  /** 127.0.0.1 ports bridged to host sockets (egress proxy, model gateway): `port=socket`. */
  bridges: { port: number; socketPath: string }[];
  /** Image sandboxes: the supervisor is root inside, and runs commands as this user unless
   *  asked for root (identity.ts). */
  runAs?: { uid: number; gid: number };
}

export const USAGE =
  "usage: supervisor --link <socket> --token-file <path> --sandbox-id <id> --state <dir> --workspace <dir> [--kill-grace-ms <ms>] [--log-cap-bytes <bytes>] [--bridge <port>=<socket>[,<port>=<socket>]] [--run-as <uid>:<gid>]";

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
  const known = ["link", "token-file", "sandbox-id", "state", "workspace", "kill-grace-ms", "log-cap-bytes", "bridge", "run-as"];
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
  return {
    link: path("link"),
    tokenFile: path("token-file"),
    sandboxId,
    state: path("state"),
    workspace: path("workspace"),
    killGraceMs: count("kill-grace-ms", 5000),
    logCapBytes: count("log-cap-bytes", DEFAULT_LOG_CAP_BYTES),
    bridges: parseBridges(values.get("bridge")),
    runAs: parseRunAs(values.get("run-as")),
  };
}

function parseRunAs(value: string | undefined): { uid: number; gid: number } | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{1,9}):(\d{1,9})$/.exec(value);
  if (!match || Number(match[1]) === 0) throw new Error(`--run-as wants <uid>:<gid> of a user other than root, got '${value}'`);
  return { uid: Number(match[1]), gid: Number(match[2]) };
}

function parseBridges(value: string | undefined): { port: number; socketPath: string }[] {
  if (!value) return [];
  return value.split(",").map((entry) => {
    const match = /^(\d{1,5})=(\/.+)$/.exec(entry);
    const port = Number(match?.[1]);
    if (!match?.[2] || port < 1 || port > 65_535) throw new Error(`--bridge wants <port>=<absolute socket path>, got '${entry}'`);
    return { port, socketPath: match[2] };
  });
}
