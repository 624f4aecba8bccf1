// Entry point of the in-sandbox supervisor, bundled to dist/supervisor.js (node: builtins
// only, plus the optional PTY module from /opt/outpost). Started by the driver inside the
// sandbox:
//   node supervisor.js --link /run/outpost/link.sock --token-file /run/outpost/token \
//     --sandbox-id sbx_… --state /var/lib/outpost --workspace /workspace
// (on Kubernetes: --link tls://<host>:<port> --link-ca <pem>, and bridges through it).
// Dials the control plane and serves HTTP/2 on the link (dialer.ts), writes
// <state>/supervisor.json, and on SIGTERM stops every process it started, finalises their
// journals and exits 0.
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { SUPERVISOR_CAPABILITIES, SUPPORTED_PROTOCOLS } from "../link/versions.ts";
import { describeLink, parseArgs, USAGE } from "./args.ts";
import { Dialer } from "./dialer.ts";
import { startBridges } from "./egress-bridge.ts";
import { writeJsonAtomic } from "./files.ts";
import { setRunAs } from "./identity.ts";
import { linkConnector } from "./link-connect.ts";
import type { Serving } from "./serving.ts";
import { SUPERVISOR_VERSION } from "./version.ts";

const log = (message: string) => process.stderr.write(`[supervisor ${new Date().toISOString()}] ${message}\n`);

function main(): void {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  setRunAs(args.runAs);
  // Root inside an image sandbox is another host uid than the sandbox user, whose group the
  // control plane's link folder (token, link socket, bridges' sockets) belongs to: joined here.
  if (args.runAs) process.setgroups?.([args.runAs.gid]);
  mkdirSync(args.state, { recursive: true, mode: 0o700 });
  const connect = linkConnector(args.link, args.linkCa);
  // Read at every dial and bridged connection: the driver may rotate it; never kept in the environment.
  const token = () => readFileSync(args.tokenFile, "utf8").trim();
  // Before anything runs in the sandbox, so the ports are the supervisor's, not a command's.
  startBridges(args.bridges, { connect: "host" in args.link ? connect : undefined, sandboxId: args.sandboxId, token, log });
  writeJsonAtomic(join(args.state, "supervisor.json"), { protocols: SUPPORTED_PROTOCOLS, pid: process.pid, startedAt: new Date().toISOString() });
  // Dial first; what serves the link loads while the control plane reads the hello.
  let serving: Promise<Serving> | undefined;
  const load = () => {
    serving ??= import("./serving.ts").then(({ startServing }) => startServing(args, log));
    serving.catch((error) => {
      log(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    });
    return serving;
  };
  const dialer = new Dialer({
    connect,
    log,
    accept: (socket) => void load().then((ready) => ready.accept(socket)),
    afterFirstHello: load,
    hello: () => ({
      sandboxId: args.sandboxId,
      token: token(),
      protocols: [...SUPPORTED_PROTOCOLS],
      supervisorVersion: SUPERVISOR_VERSION,
      capabilities: [...SUPERVISOR_CAPABILITIES],
      pid: process.pid,
    }),
  });
  dialer.start();
  log(`dialling ${describeLink(args.link)} (protocols ${SUPPORTED_PROTOCOLS.join(", ")}, pid ${process.pid})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping processes`);
    // Open streams get their exit lines as their processes end; then the link goes.
    await (await load()).shutdown();
    // Give in-flight responses a moment to flush their last lines.
    await new Promise((resolve) => setTimeout(resolve, 200));
    dialer.stop();
    log("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

try {
  main();
} catch (error) {
  log(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
}
