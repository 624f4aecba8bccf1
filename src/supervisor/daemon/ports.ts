// GET /v1/ports: the TCP ports that listen inside the sandbox and that a tunnel can reach
// (previews list them as they appear). The sandbox has its own network namespace, so
// /proc/net/tcp{,6} as the supervisor sees them hold exactly the sandbox's sockets. Only
// LISTEN sockets on an address a connection to 127.0.0.1 reaches count: 127.0.0.1,
// 0.0.0.0, :: and their IPv4-mapped forms (a server on ::1 or 127.0.0.2 only is not
// reachable through the tunnel, which dials 127.0.0.1).
//
// The owning process is found by matching the socket's inode against /proc/<pid>/fd links,
// which everything in the sandbox lets the supervisor read (one uid). That scan is bounded
// (processes and links looked at) and stops once every socket is placed: a sandbox with
// thousands of descriptors gets its ports listed, perhaps without process names.
import { open, readdir, readFile, readlink } from "node:fs/promises";
import { endianness } from "node:os";
import type { PortList } from "../protocol.ts";
import type { Handler } from "./http-types.ts";
import { sendJson } from "./respond.ts";

/** The answer's cap; the schema on the control plane's side says the same. */
export const MAX_PORTS = 1024;
/** A /proc/net file is one line per socket: this is some 100 000 sockets. */
const MAX_PROC_NET_BYTES = 16 * 1024 * 1024;
const MAX_PROCESSES_SCANNED = 4096;
const MAX_FD_LINKS_READ = 50_000;
const LISTEN = "0A";

const REACHABLE = new Set(["127.0.0.1", "0.0.0.0", "::", "::ffff:127.0.0.1", "::ffff:0.0.0.0"]);

export interface ListeningSocket {
  port: number;
  address: string;
  inode: string;
}

export function portsHandler(procRoot = "/proc"): Handler {
  return async (_request, response) => {
    sendJson(response, 200, await listPorts(procRoot));
  };
}

export async function listPorts(procRoot = "/proc"): Promise<PortList> {
  const sockets = [...parseProcNet(await readBounded(`${procRoot}/net/tcp`), 4), ...parseProcNet(await readBounded(`${procRoot}/net/tcp6`), 6)].filter(
    (socket) => REACHABLE.has(socket.address),
  );
  const byPort = new Map<number, ListeningSocket[]>();
  for (const socket of sockets) byPort.set(socket.port, [...(byPort.get(socket.port) ?? []), socket]);
  const ports = [...byPort.keys()].sort((a, b) => a - b).slice(0, MAX_PORTS);
  const owners = await socketOwners(procRoot, new Set(ports.flatMap((port) => (byPort.get(port) ?? []).map((s) => s.inode))));
  return {
    items: ports.map((port) => {
      const found = byPort.get(port) ?? [];
      const owner = found.map((s) => owners.get(s.inode)).find((o) => o !== undefined) ?? null;
      return { port, addresses: [...new Set(found.map((s) => s.address))], process: owner };
    }),
  };
}

/** LISTEN sockets of one /proc/net/tcp* file (`family` 4 or 6). */
export function parseProcNet(text: string, family: 4 | 6): ListeningSocket[] {
  const sockets: ListeningSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (fields.length < 10 || fields[3] !== LISTEN) continue;
    const [hexAddress, hexPort] = (fields[1] ?? "").split(":");
    const port = Number.parseInt(hexPort ?? "", 16);
    const address = decodeAddress(hexAddress ?? "", family);
    const inode = fields[9] ?? "";
    if (address === null || !Number.isInteger(port) || port < 1 || port > 65_535 || !/^\d{1,20}$/.test(inode)) continue;
    sockets.push({ port, address, inode });
  }
  return sockets;
}

/** The kernel prints each 32-bit word of the address in host byte order. */
function decodeAddress(hex: string, family: 4 | 6): string | null {
  if (hex.length !== (family === 4 ? 8 : 32) || !/^[0-9A-Fa-f]+$/.test(hex)) return null;
  const bytes: number[] = [];
  for (let word = 0; word < hex.length; word += 8) {
    const wordBytes = [0, 2, 4, 6].map((i) => Number.parseInt(hex.slice(word + i, word + i + 2), 16));
    bytes.push(...(endianness() === "LE" ? wordBytes.reverse() : wordBytes));
  }
  if (family === 4) return bytes.join(".");
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (mapped) return `::ffff:${bytes.slice(12).join(".")}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 form: the longest run of zero groups (two or more) becomes "::". */
function compressIpv6(groups: string[]): string {
  let best = { start: -1, length: 0 };
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === "0") j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  if (best.length < 2) return groups.join(":");
  return `${groups.slice(0, best.start).join(":")}::${groups.slice(best.start + best.length).join(":")}`;
}

/** Which process holds each socket inode: pid and its comm, as far as a bounded scan finds. */
async function socketOwners(procRoot: string, inodes: Set<string>): Promise<Map<string, { pid: number; name: string }>> {
  const owners = new Map<string, { pid: number; name: string }>();
  if (inodes.size === 0) return owners;
  const pids = (await readdir(procRoot).catch(() => [] as string[])).filter((entry) => /^\d+$/.test(entry)).slice(0, MAX_PROCESSES_SCANNED);
  let linksRead = 0;
  for (const pid of pids) {
    if (owners.size === inodes.size || linksRead >= MAX_FD_LINKS_READ) break;
    const fds = await readdir(`${procRoot}/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      if (linksRead++ >= MAX_FD_LINKS_READ) break;
      const target = await readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => "");
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode === undefined || !inodes.has(inode) || owners.has(inode)) continue;
      const name = (await readFile(`${procRoot}/${pid}/comm`, "utf8").catch(() => "")).trim().slice(0, 64);
      owners.set(inode, { pid: Number(pid), name: name || "?" });
    }
  }
  return owners;
}

/** A /proc file (its size reads as 0, so read until the end), at most MAX_PROC_NET_BYTES. */
async function readBounded(path: string): Promise<string> {
  const handle = await open(path, "r").catch(() => null);
  if (!handle) return "";
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    while (total < MAX_PROC_NET_BYTES) {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      total += bytesRead;
    }
    return Buffer.concat(chunks).toString("latin1");
  } finally {
    await handle.close();
  }
}
