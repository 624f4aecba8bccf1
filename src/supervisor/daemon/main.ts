// Entry point of the in-sandbox supervisor, bundled to dist/supervisor.js (node: builtins
// only). Started by the local driver inside bwrap:
//   node supervisor.js --socket /run/outpost/supervisor.sock --state /var/lib/outpost --workspace /workspace
// Listens on the socket (0600), writes <state>/supervisor.json once listening, and on
// SIGTERM stops every process it started, finalises their journals and exits 0.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PROTOCOL_VERSION } from "../protocol.ts";
import { parseArgs, USAGE } from "./args.ts";
import { writeJsonAtomic } from "./files.ts";
import { createSupervisorServer, listenOnSocket } from "./http-adapter.ts";
import { createSupervisor } from "./supervisor.ts";

const log = (message: string) => process.stderr.write(`[supervisor ${new Date().toISOString()}] ${message}\n`);

async function main(): Promise<void> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  mkdirSync(args.state, { recursive: true, mode: 0o700 });
  const supervisor = createSupervisor({ stateDir: args.state, workspace: args.workspace, killGraceMs: args.killGraceMs, logCapBytes: args.logCapBytes, log });
  const server = createSupervisorServer((request, response) => supervisor.router.handle(request, response, log));
  await listenOnSocket(server, args.socket);
  writeJsonAtomic(join(args.state, "supervisor.json"), { protocol: PROTOCOL_VERSION, pid: process.pid, startedAt: new Date().toISOString() });
  log(`listening on ${args.socket} (protocol ${PROTOCOL_VERSION}, pid ${process.pid})`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping processes`);
    // Stop accepting first; open streams get their exit lines as their processes end.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await supervisor.shutdown();
    // Give in-flight responses a moment to flush their last lines, then cut what is left
    // (a client that stopped reading must not hold the shutdown).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      void closed.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    server.closeAllConnections();
    rmSync(args.socket, { force: true });
    log("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  log(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
