// Start-up: the HTTP server starts listening; what usually goes wrong there (the port is
// taken, the address is not this machine's) is said with its fix, not a stack trace.
import type { FastifyInstance } from "fastify";
import type { Settings } from "../config/settings.ts";
import { StartupError } from "../domain/errors.ts";

/** Listens on the configured host and port; resolves with the URL to open on this machine. */
export async function listen(app: FastifyInstance, settings: Settings): Promise<string> {
  try {
    await app.listen({ host: settings.host, port: settings.port });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EADDRINUSE")
      throw new StartupError(`port ${settings.port} on ${settings.host} is already in use`, "set OUTPOST_PORT to a free port, e.g. OUTPOST_PORT=7301");
    if (code === "EADDRNOTAVAIL") throw new StartupError(`cannot bind to ${settings.host}`, "set OUTPOST_HOST to an address of this machine, e.g. 127.0.0.1");
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : settings.port;
  // A wildcard address is not something to open in a browser: show loopback instead.
  const host = settings.host === "0.0.0.0" || settings.host === "::" ? "127.0.0.1" : settings.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
