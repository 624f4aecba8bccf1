// The host side of a sandbox's 127.0.0.1:5432: each connection that arrives on the
// sandbox's database socket is carried, byte for byte, to the PostgreSQL server that holds
// its project's database (the provisioner's endpoint). Who is asking is known by the socket
// it came in on, as for the egress proxy. The bridge decides nothing about SQL: the server
// does (the project's role reaches only its own database, with a password, a connection
// limit and a statement timeout). A sandbox whose project has no database gets its
// connection closed.
import { connect, type Socket } from "node:net";
import type { ServerEndpoint } from "../services/databases/provisioner.ts";

export interface DatabaseBridgeDeps {
  /** The sandbox's project (null: a sandbox Outpost does not know). */
  projectOf(sandboxId: string): Promise<string | null>;
  /** Where that project's database lives (null: it has none). */
  endpointOf(projectId: string): Promise<ServerEndpoint | null>;
  log(message: string): void;
}

/** A connection not yet carried through (looking up, dialling) is given this long. */
const SETUP_TIMEOUT_MS = 15_000;

export class DatabaseBridge {
  readonly #open = new Set<Socket>();

  constructor(private readonly deps: DatabaseBridgeDeps) {}

  accept(sandboxId: string, client: Socket): void {
    this.#open.add(client);
    client.once("close", () => this.#open.delete(client));
    client.on("error", () => client.destroy());
    // Until the server is reached, what the client sends waits in its socket.
    client.pause();
    const setup = setTimeout(() => client.destroy(), SETUP_TIMEOUT_MS);
    void this.#carry(sandboxId, client)
      .catch((error: Error) => {
        this.deps.log(`database connection of ${sandboxId} closed: ${error.message}`);
        client.destroy();
      })
      .finally(() => clearTimeout(setup));
  }

  async #carry(sandboxId: string, client: Socket): Promise<void> {
    const projectId = await this.deps.projectOf(sandboxId);
    const endpoint = projectId ? await this.deps.endpointOf(projectId) : null;
    if (!endpoint || client.destroyed) {
      client.destroy();
      return;
    }
    const server = endpoint.kind === "unix" ? connect({ path: endpoint.path }) : connect({ host: endpoint.host, port: endpoint.port });
    this.#open.add(server);
    server.once("close", () => this.#open.delete(server));
    await new Promise<void>((resolve, reject) => {
      server.once("connect", resolve);
      server.once("error", reject);
      client.once("close", () => reject(new Error("the client went away")));
    });
    server.on("error", () => client.destroy());
    server.once("close", () => client.destroy());
    client.once("close", () => server.destroy());
    // Backpressure both ways: pipe pauses a side whose reader is slow.
    client.pipe(server);
    server.pipe(client);
    client.resume();
  }

  close(): void {
    for (const socket of this.#open) socket.destroy();
  }
}
