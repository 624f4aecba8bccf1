// A rogue supervisor for tests of the control plane's trust boundary. Code inside a sandbox
// runs as the same uid as the sandbox's supervisor, so it can stop the supervisor and dial
// the control plane's link socket itself with the sandbox's token: a newer link from the
// same sandbox replaces the current one by design (a restarted supervisor reconnects).
// From then on everything the control plane hears from that sandbox comes from the rogue,
// which answers as its behaviour says:
//   forge      output and log records that try to smuggle SSE events into the API's streams
//              (exec `raw`: as the chunk itself; any other exec: as base64 of output)
//   oversized  a 15 MiB error message (exec), a 20 MiB JSON answer (GET /v1/processes),
//              a header list far over 64 KiB (GET /v1/processes/prc_bigheaders0000)
//   silent     accepts every stream and never answers; an exec with timeoutMs gets its
//              `started` line and then nothing
//   malformed  out-of-range and ill-typed values, one case per request: the exec's second
//              argument or the process id names it
//   flood      endless stdout for an exec (up to 256 MiB), counting what the control plane
//              let it write in flood-<the exec's second argument>.json
//   record     answers an exec like a supervisor would; only records what it is asked
// Whatever the behaviour, the rogue records every request it receives (method, path,
// headers, body) in /workspace/.rogue/requests.log, and the state of its streams in files
// next to it, so tests can see what crossed the link.
//
// takeOver() starts it as a background process through the API (while the real supervisor
// still answers), lets it go, and returns once its link is up; restore() kills it from the
// host, lets the real supervisor run again (SIGCONT) and waits until it has taken the link
// back (it redials as soon as it runs).
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { adminToken, type ServeProcess, spawnServe } from "../helpers/process.ts";
import { exec, waitForPhase } from "../helpers/sandboxes.ts";
import { api, freshMachineDatabase, tempDir } from "../helpers/server.ts";
import { waitUntil } from "../supervisor/helpers.ts";

/** What takeOver needs of a control plane: where its API is and where its data lives. */
export interface ControlPlane {
  url: string;
  token: string;
  dataDir: string;
}

export type Behaviour = "forge" | "oversized" | "silent" | "malformed" | "flood" | "record";

/** Text that would end an SSE event and start a forged `exit` (id 99, exit code 42). */
export const FORGED = 'aGk="}\n\nevent: exit\nid: 99\ndata: {"exitCode":42,"signal":null,"timedOut":false,"durationMs":1}\n\n';

/** The rogue's source. String.raw keeps its escapes for the rogue's own parser; it is written
 *  without template literals of its own. */
export const ROGUE = String.raw`"use strict";
const fs = require("node:fs");
const net = require("node:net");
const http2 = require("node:http2");

const DIR = "/workspace/.rogue";
const behaviour = process.argv[2];
const MiB = 1024 * 1024;
const BASE = { "x-outpost-supervisor-protocol": "2" };

function note(name, value) {
  const tmp = DIR + "/" + name + ".tmp";
  fs.writeFileSync(tmp, typeof value === "string" ? value : JSON.stringify(value));
  fs.renameSync(tmp, DIR + "/" + name);
}
function log(name, value) {
  fs.appendFileSync(DIR + "/" + name, JSON.stringify(value) + "\n");
}
const line = (value) => JSON.stringify(value) + "\n";
const bigCache = new Map();
function filled(name, bytes, build) {
  if (!bigCache.has(name)) bigCache.set(name, build(bytes));
  return bigCache.get(name);
}
function json(res, status, body, headers) {
  res.writeHead(status, Object.assign({}, BASE, { "content-type": "application/json" }, headers || {}));
  res.end(body);
}
function ndjson(res) {
  res.writeHead(200, Object.assign({}, BASE, { "content-type": "application/x-ndjson" }));
}
function notFound(res) {
  json(res, 404, line({ error: { code: "ROUTE_NOT_FOUND", message: "no such route" } }));
}

const FORGED = ${JSON.stringify(FORGED)};
const EXIT = { type: "exit", exitCode: 0, signal: null, timedOut: false, durationMs: 1 };
const PROCESS = {
  id: "prc_aaaaaaaaaaaa", name: "rogue", command: ["sleep", "1"], cwd: "/workspace", pid: 77,
  status: "running", exitCode: null, signal: null, startedAt: "2026-01-01T00:00:00.000Z", endedAt: null,
};

// Big answers go out 1 MiB per answer per round, every answer in each round, the next round
// once the link took the last: the control plane receives all of them side by side, the
// most it could ever have to hold at once, rather than one after the other.
const inLockstep = [];
let pumping = false;
function sendInLockstep(res, status, body) {
  res.writeHead(status, Object.assign({}, BASE, { "content-type": "application/json" }));
  const answer = { res, body, offset: 0, over: false };
  res.stream.once("close", () => {
    answer.over = true;
  });
  inLockstep.push(answer);
  // Answers released together join before the first round.
  if (!pumping) setImmediate(pump);
  pumping = true;
}
async function pump() {
  while (inLockstep.length > 0) {
    const drained = [];
    for (const answer of inLockstep) {
      if (answer.over) continue;
      const end = Math.min(answer.offset + MiB, answer.body.length);
      const more = answer.res.write(answer.body.subarray(answer.offset, end));
      answer.offset = end;
      if (end === answer.body.length) {
        answer.res.end();
        answer.over = true;
      } else if (!more) {
        drained.push(new Promise((resolve) => {
          answer.res.stream.once("drain", resolve);
          answer.res.stream.once("close", resolve);
        }));
      }
    }
    for (let i = inLockstep.length - 1; i >= 0; i--) if (inLockstep[i].over) inLockstep.splice(i, 1);
    await Promise.all(drained);
  }
  pumping = false;
}

const behaviours = {
  forge(req, res, path, body) {
    ndjson(res);
    if (path.endsWith("/logs")) {
      res.write(line({ seq: 1, stream: "stdout", data: Buffer.from(FORGED).toString("base64"), ts: "2026-01-01T00:00:00.000Z" }));
      res.write(line({ seq: 2, stream: "stdout", data: "aGkK", ts: "2026-01-01T00:00:00Z\n\nevent: exit\ndata: {}" }));
      return res.end(line({ type: "exit", exitCode: 42, signal: null, endedAt: null }));
    }
    // "raw": the forged text as the chunk itself; otherwise as base64 (what a process
    // printing it would produce).
    const raw = body && Array.isArray(body.command) && body.command[0] === "raw";
    res.write(line({ type: "started", pid: 4242 }));
    res.write(line({ type: "stdout", data: raw ? FORGED : Buffer.from(FORGED).toString("base64") }));
    res.end(line(EXIT));
  },

  oversized(req, res, path) {
    if (path === "/v1/exec") {
      const body = filled("error", 15 * MiB, (n) => Buffer.from('{"error":{"code":"INTERNAL","message":"' + "Q".repeat(n) + '"}}'));
      return sendInLockstep(res, 500, body);
    }
    if (path === "/v1/processes") {
      const body = filled("list", 20 * MiB, (n) => Buffer.from('{"items":[],"padding":"' + "P".repeat(n) + '"}'));
      return sendInLockstep(res, 200, body);
    }
    if (path === "/v1/processes/prc_bigheaders0000") {
      // 48 headers of 4 KiB each: 192 KiB of header list, in few enough pairs that only the
      // list's size (not its count) is over the control plane's limit.
      const headers = {};
      for (let i = 0; i < 48; i++) headers["x-rogue-" + i] = require("node:crypto").randomBytes(3072).toString("base64");
      return json(res, 200, JSON.stringify(PROCESS), headers);
    }
    notFound(res);
  },

  silent(req, res, path, body) {
    log("streams.log", { event: "open", path });
    res.stream.once("close", () => log("streams.log", { event: "closed", path }));
    if (path === "/v1/exec" && body && body.timeoutMs !== undefined) {
      ndjson(res);
      res.write(line({ type: "started", pid: 4242 }));
    }
    // Otherwise: no headers, ever. The stream stays open until the control plane gives up.
  },

  malformed(req, res, path, body) {
    if (path === "/v1/exec") {
      const which = body && Array.isArray(body.command) ? body.command[1] : "";
      const started = line({ type: "started", pid: 4242 });
      if (which === "frame-too-big") {
        // Binary frames: a started frame, then a stdout frame that claims (and has) 2 MiB,
        // twice the protocol's frame cap.
        res.writeHead(200, Object.assign({}, BASE, { "content-type": "application/vnd.outpost.frames" }));
        const frame = (type, payload) => {
          const header = Buffer.alloc(5);
          header[0] = type;
          header.writeUInt32BE(payload.length, 1);
          return Buffer.concat([header, payload]);
        };
        res.write(frame(3, Buffer.from(JSON.stringify({ pid: 4242 }))));
        res.write(frame(1, filled("frame", 2 * MiB, (n) => Buffer.alloc(n, 0x41))));
        return res.end(frame(4, Buffer.from(JSON.stringify({ exitCode: 0, signal: null, timedOut: false, durationMs: 1 }))));
      }
      ndjson(res);
      switch (which) {
        case "exit-code-huge":
          return res.end(started + '{"type":"exit","exitCode":1e20,"signal":null,"timedOut":false,"durationMs":1}\n');
        case "pid-negative":
          return res.end(line({ type: "started", pid: -1 }) + line(EXIT));
        case "pid-huge":
          return res.end(line({ type: "started", pid: 1e9 }) + line(EXIT));
        case "signal-script":
          return res.end(started + line(Object.assign({}, EXIT, { exitCode: null, signal: "<script>alert(1)</script>" })));
        case "not-json":
          return res.end(started + "<html>not json at all</html>\n" + line(EXIT));
        case "line-too-long":
          // One stdout "line" of 5 MiB (the client's line cap is 4 MiB), never finished.
          res.write(started + '{"type":"stdout","data":"');
          res.write(filled("long", 5 * MiB, (n) => Buffer.alloc(n, 0x41)));
          return res.end('"}\n' + line(EXIT));
        case "extra-fields":
          return res.end(
            line({ type: "started", pid: 4242, evil: "EXTRA-FIELD-VALUE" }) +
              line({ type: "stdout", data: "aGkK", evil: "EXTRA-FIELD-VALUE" }) +
              line(Object.assign({ evil: "EXTRA-FIELD-VALUE", nested: { evil: "EXTRA-FIELD-VALUE" } }, EXIT)),
          );
        case "proto-keys":
          return res.end(
            started +
              '{"type":"stdout","data":"aGkK","__proto__":{"polluted":"PROTO-VALUE"}}\n' +
              '{"type":"exit","exitCode":0,"signal":null,"timedOut":false,"durationMs":1,"__proto__":{"exitCode":99,"polluted":"PROTO-VALUE"},"constructor":{"prototype":{"polluted":"PROTO-VALUE"}}}\n',
          );
        default:
          return res.end(started + line(EXIT));
      }
    }
    const text = JSON.stringify(PROCESS);
    switch (path) {
      case "/v1/processes/prc_yesterday000":
        return json(res, 200, JSON.stringify(Object.assign({}, PROCESS, { id: "prc_yesterday000", startedAt: "yesterday" })));
      case "/v1/processes/prc_pidnegative0":
        return json(res, 200, JSON.stringify(Object.assign({}, PROCESS, { id: "prc_pidnegative0", pid: -1 })));
      case "/v1/processes/prc_extrafields0":
        return json(res, 200, JSON.stringify(Object.assign({}, PROCESS, { id: "prc_extrafields0", evil: "EXTRA-FIELD-VALUE" })));
      case "/v1/processes/prc_protokeys000":
        return json(res, 200, text.slice(0, -1).replace("prc_aaaaaaaaaaaa", "prc_protokeys000") + ',"__proto__":{"status":"exited","polluted":"PROTO-VALUE"}}');
      case "/v1/processes/prc_notjson00000":
        return json(res, 200, "<html>not json at all</html>");
    }
    notFound(res);
  },

  flood(req, res, path, body) {
    if (path !== "/v1/exec") return notFound(res);
    ndjson(res);
    // The exec's second argument names the file its state goes to: flood-<name>.json.
    const name = String((body && Array.isArray(body.command) && body.command[1]) || "").replace(/[^a-z0-9]/g, "") || "default";
    const state = { written: 0, waiting: false, done: false, closed: false };
    const report = () => note("flood-" + name + ".json", state);
    res.stream.once("close", () => {
      state.closed = true;
      report();
    });
    res.write(line({ type: "started", pid: 4242 }));
    // 48 KiB of output per line: 64 KiB of base64, one pipe read's worth.
    const chunk = Buffer.from(line({ type: "stdout", data: Buffer.alloc(48 * 1024, 0x61).toString("base64") }));
    const goal = 256 * MiB;
    const pump = () => {
      while (!state.closed && state.written < goal) {
        state.written += chunk.length;
        if (!res.write(chunk)) {
          state.waiting = true;
          report();
          res.stream.once("drain", () => {
            state.waiting = false;
            pump();
          });
          return;
        }
        if (state.written % (8 * MiB) < chunk.length) report();
      }
      if (state.closed) return;
      state.done = true;
      report();
      res.end(line(EXIT));
    };
    pump();
  },

  record(req, res, path) {
    if (path !== "/v1/exec") return notFound(res);
    ndjson(res);
    res.end(line({ type: "started", pid: 4242 }) + line({ type: "stdout", data: Buffer.from("rogue\n").toString("base64") }) + line(EXIT));
  },
};

const server = http2.createServer({ maxSendHeaderBlockLength: 4 * MiB, maxSessionMemory: 100000, settings: { maxConcurrentStreams: 1000 } }, (req, res) => {
  req.on("error", () => {});
  res.stream.on("error", () => {});
  const path = new URL(req.url, "http://rogue").pathname;
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= 4 * MiB) chunks.push(chunk);
  });
  req.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    log("requests.log", { method: req.method, path: req.url, headers: req.headers, body: text });
    let body = null;
    try {
      body = JSON.parse(text);
    } catch {}
    const answer = () => behaviours[behaviour](req, res, path, body);
    if (fs.existsSync(DIR + "/hold")) held.push(answer);
    else answer();
  });
});

// While the test keeps a "hold" file here, answers wait until it writes "release": then all
// go out at once, so the control plane receives them together, not one after the other.
const held = [];
setInterval(() => {
  if (held.length === 0 || !fs.existsSync(DIR + "/release")) return;
  fs.rmSync(DIR + "/release", { force: true });
  for (const answer of held.splice(0)) answer();
}, 10).unref();
server.on("session", (session) => session.on("error", () => {}));

let links = 0;
function dial(hello) {
  const socket = net.connect("/run/outpost/link.sock");
  let pending = Buffer.alloc(0);
  let linked = false;
  socket.on("error", () => {});
  socket.once("connect", () => socket.write("OUTPOST-LINK " + JSON.stringify(hello) + "\n"));
  const onData = (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const newline = pending.indexOf(10);
    if (newline === -1) return;
    socket.off("data", onData);
    socket.pause();
    const answer = pending.subarray(0, newline).toString();
    if (!answer.startsWith("OK ")) {
      note("refused", answer);
      return socket.destroy();
    }
    const rest = pending.subarray(newline + 1);
    if (rest.length) socket.unshift(rest);
    linked = true;
    server.emit("connection", socket);
    links += 1;
    note("linked", String(links));
  };
  socket.on("data", onData);
  // Like the real supervisor: a dropped link is dialled again, so the control plane keeps
  // talking to the rogue (and does not restart the sandbox) after it cut one link.
  socket.once("close", () => setTimeout(() => dial(hello), linked ? 20 : 200));
}

function takeOver() {
  let supervisor = null;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv;
    try {
      argv = fs.readFileSync("/proc/" + entry + "/cmdline", "utf8").split("\0");
    } catch {
      continue;
    }
    // argv[1], not anywhere: the sandbox's pid 1 (bwrap) carries the same words after "--".
    if (argv[1] === "/opt/outpost/supervisor.js") supervisor = { pid: Number(entry), sandboxId: argv[argv.indexOf("--sandbox-id") + 1] };
  }
  if (!supervisor) return note("failed", "no supervisor process found");
  // Killing it would end the sandbox (it is the sandbox's main process); stopping it keeps
  // it from dialling back in as soon as the control plane drops its link for ours.
  process.kill(supervisor.pid, "SIGSTOP");
  const token = fs.readFileSync("/run/outpost/token", "utf8").trim();
  dial({ sandboxId: supervisor.sandboxId, token, protocols: [2], supervisorVersion: "rogue", capabilities: [], pid: process.pid });
}

// Wait for the test's go: only once the real supervisor has answered the request that
// started this process may it be stopped (that answer would be lost with its link).
const deadline = Date.now() + 60000;
(function waitForGo() {
  if (fs.existsSync(DIR + "/go")) return takeOver();
  if (Date.now() > deadline) return note("failed", "no go within 60 s");
  setTimeout(waitForGo, 10);
})();
`;

export interface Rogue {
  sandboxId: string;
  /** The rogue's folder on the host (the sandbox's /workspace/.rogue). */
  dir: string;
  /** Every request the rogue received, oldest first. */
  requests(): { method: string; path: string; headers: Record<string, string>; body: string }[];
  /** Lines of a .log file the rogue appends to, parsed. */
  records(name: string): any[];
  /** A file the rogue wrote whole (JSON), or undefined while it has not. */
  state(name: string): any;
  /** Starts `count` calls with `start` and has the rogue hold its answers until it has
   *  received all of them, then answer them at once; resolves with the calls' results. */
  together<T>(count: number, start: () => Promise<T>): Promise<T[]>;
  /** Kills the rogue, lets the real supervisor run again and waits until it has the link back. */
  restore(): Promise<void>;
}

/** Host pids whose argv starts with `prefix` and holds `also` somewhere after it. */
function pidsWithArgv(prefix: string[], also: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (prefix.every((part, i) => argv[i] === part) && argv.includes(also)) found.push(Number(entry));
    } catch {}
  }
  return found;
}

/** The sandbox's real supervisor, as the host sees it (bwrap's two processes above it
 *  carry the same words after their own options, so argv must start with them). */
export function supervisorHostPid(sandboxId: string): number {
  const pids = pidsWithArgv(["/opt/outpost/bin/node", "/opt/outpost/supervisor.js"], sandboxId);
  if (pids.length !== 1) throw new Error(`expected one supervisor process for ${sandboxId} on the host, found ${JSON.stringify(pids)}`);
  return pids[0] as number;
}

/** One letter of /proc/<pid>/status's State (R, S, T for stopped, Z …); "" once it is gone. */
export function processState(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "";
  } catch {
    return "";
  }
}

export async function takeOver(server: ControlPlane, sandboxId: string, behaviour: Behaviour): Promise<Rogue> {
  const dir = join(server.dataDir, "sandboxes", sandboxId, "workspace", ".rogue");
  // Written by the sandbox's own user, so the rogue can write next to it.
  await exec(server, sandboxId, ["sh", "-c", "rm -rf /workspace/.rogue && mkdir /workspace/.rogue && cat > /workspace/.rogue/rogue.cjs"], { stdin: ROGUE });
  const supervisor = supervisorHostPid(sandboxId);
  const started = await api(server, "POST", `/api/v1/sandboxes/${sandboxId}/processes`, {
    body: { command: ["/opt/outpost/bin/node", "/workspace/.rogue/rogue.cjs", behaviour], name: `rogue-${behaviour}` },
  });
  if (started.status !== 201) throw new Error(`the rogue did not start: ${started.status} ${JSON.stringify(started.body)}`);
  const rogues = pidsWithArgv(["/opt/outpost/bin/node", "/workspace/.rogue/rogue.cjs"], behaviour).filter((pid) => parentOf(pid) === supervisor);
  if (rogues.length !== 1) throw new Error(`expected one rogue process under supervisor ${supervisor}, found ${JSON.stringify(rogues)}`);
  const roguePid = rogues[0] as number;

  const read = (name: string): string | undefined => {
    try {
      return readFileSync(join(dir, name), "utf8");
    } catch {
      return undefined;
    }
  };
  writeFileSync(join(dir, "go"), "");
  try {
    await waitUntil(`the rogue (${behaviour}) holds the link of ${sandboxId}`, () => {
      const failed = read("failed") ?? read("refused");
      if (failed !== undefined) throw new Error(`the rogue could not take the link over: ${failed}`);
      return read("linked") !== undefined;
    });
    if (processState(supervisor) !== "T") throw new Error(`the real supervisor (${supervisor}) is not stopped: ${processState(supervisor)}`);
  } catch (error) {
    // Leave the sandbox as it was, so the test's cleanup finds a supervisor that answers.
    signal(roguePid, "SIGKILL");
    signal(supervisor, "SIGCONT");
    throw error;
  }

  /** A file of JSON lines the rogue appends to, parsed. */
  const records = (name: string) => (read(name) ?? "").split("\n").flatMap((text) => (text ? [JSON.parse(text)] : []));
  const requests = () => records("requests.log");
  let restored = false;
  return {
    sandboxId,
    dir,
    requests,
    records,
    state: (name) => {
      const text = read(name);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async together(count, start) {
      writeFileSync(join(dir, "hold"), "");
      const before = requests().length;
      const calls = Promise.all(Array.from({ length: count }, start));
      calls.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
      try {
        await waitUntil(`the rogue has received ${count} requests`, () => requests().length - before >= count);
      } finally {
        rmSync(join(dir, "hold"), { force: true });
        writeFileSync(join(dir, "release"), "");
      }
      return calls;
    },
    async restore() {
      if (restored) return;
      restored = true;
      // First the rogue, or the two would take the link from each other; it stays a zombie
      // until its parent, the real supervisor, runs again and reaps it.
      signal(roguePid, "SIGKILL");
      await waitUntil("the rogue is dead", () => ["", "Z"].includes(processState(roguePid)));
      signal(supervisor, "SIGCONT");
      // Its link was dropped when the rogue's replaced it; it dials again as soon as it runs.
      await waitUntil(
        `the real supervisor of ${sandboxId} answers again`,
        async () => {
          const res = await api(server, "POST", `/api/v1/sandboxes/${sandboxId}/exec`, { body: { command: ["echo", "back"] } }).catch(() => null);
          return res?.status === 200 && res.body.stdout === "back\n";
        },
        30_000,
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function parentOf(pid: number): number {
  try {
    return Number(/^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
  } catch {
    return -1;
  }
}

/** Sends a signal to a process that may be gone already. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {}
}

/** Resident memory of a process in MiB: now (VmRSS) and at its peak (VmHWM). */
export function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** Sets the process's peak (VmHWM) back to its current resident size (Linux ≥ 4.0, root). */
export function resetPeakMemory(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/** A control plane in a process of its own (`outpost serve`): its memory is its own, and
 *  its log (pino, to stdout) is collected. Its state is in a fresh database on the
 *  machine's PostgreSQL (quicker to start than the embedded one). */
export interface ServedControlPlane extends ControlPlane {
  pid: number;
  /** Everything the server has logged so far. */
  log(): string;
  close(): Promise<void>;
}

export async function serveControlPlane(env: Record<string, string> = {}): Promise<ServedControlPlane> {
  const dataDir = tempDir();
  const database = await freshMachineDatabase();
  let serve: ServeProcess;
  try {
    serve = await spawnServe(dataDir, { OUTPOST_LOG_LEVEL: "info", DATABASE_URL: database.url, ...env });
  } catch (error) {
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const token = adminToken(dataDir);
  const pid = serve.child.pid as number;
  return {
    url: serve.url,
    token,
    dataDir,
    pid,
    log: serve.output,
    async close() {
      // Sandboxes outlive the control plane on purpose: delete them first.
      const list = await api({ url: serve.url, token }, "GET", "/api/v1/sandboxes").catch(() => null);
      const items: { id: string }[] = list?.body?.items ?? [];
      for (const box of items) await api({ url: serve.url, token }, "DELETE", `/api/v1/sandboxes/${box.id}`).catch(() => {});
      for (const box of items) await waitForPhase({ url: serve.url, token }, box.id, ["deleted"]).catch(() => {});
      serve.child.kill("SIGTERM");
      // Bounded: a control plane that does not stop must fail the test, not hang it.
      const exited = await Promise.race([serve.exited.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 30_000).unref())]);
      if (!exited) serve.child.kill("SIGKILL");
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
      if (!exited) throw new Error(`outpost serve did not exit within 30 s of SIGTERM; its log ends:\n${serve.output().slice(-4000)}`);
    },
  };
}
