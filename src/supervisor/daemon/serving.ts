// Everything the supervisor serves, loaded after its first hello went out (main.ts): the
// processes it journals, the router with every route of protocol 2, and the HTTP/2 server
// that serves them on the link. Loading it (node:http2 among it) takes a few tens of ms,
// which overlap with the control plane reading the hello.
import type { DaemonArgs } from "./args.ts";
import { createLinkServer } from "./http2-adapter.ts";
import { createSupervisor } from "./supervisor.ts";

export interface Serving {
  /** Serves HTTP/2 on a connection the control plane accepted. */
  accept(socket: import("node:net").Socket): void;
  /** Stops every process (SIGTERM, SIGKILL after the grace) and finalises their journals. */
  shutdown(): Promise<void>;
}

export function startServing(args: DaemonArgs, log: (message: string) => void): Serving {
  const supervisor = createSupervisor({ stateDir: args.state, workspace: args.workspace, killGraceMs: args.killGraceMs, logCapBytes: args.logCapBytes, log });
  const server = createLinkServer((request, response) => supervisor.router.handle(request, response, log));
  return {
    accept: (socket) => server.emit("connection", socket),
    shutdown: () => supervisor.shutdown(),
  };
}
