// The managed provisioner: a PostgreSQL 15 server Outpost runs for project data only, under
// <data dir>/projects-postgres (db/embedded.ts, a second instance beside the control plane's
// own). A second server, not the control plane's, so that project roles never live where
// Outpost's own tables do, and so the two can upgrade apart; major 15 because the host's
// pg_dump/psql (Debian 12) are 15 and refuse a newer server. It listens on a unix socket only,
// with scram-sha-256 for every login; sandboxes reach it through the control plane's bridge.
// The server is started lazily by the first operation (or by start()) and adopted when a
// killed control plane left it running.
import { join } from "node:path";
import type pg from "pg";
import type { DatabaseFacts, DatabaseRef, EnsureOptions, Provisioner, ServerEndpoint } from "./provisioner.ts";
import { AdminConnections, branchDatabase, dropDatabase, ensureDatabase, inspectDatabase, revokePublicConnect, setRolePassword } from "./sql.ts";

const PORT = 5432;

/** What the provisioner needs of db/embedded.ts's EmbeddedPostgres (passed in by start-up:
 *  services do not reach into db/). */
export interface ProjectServer {
  readonly socketDir: string;
  start(): Promise<"started" | "adopted">;
  stop(): Promise<void>;
  /** Superuser connection settings for one database of the server. */
  connectionFor(database: string): pg.ClientConfig;
}

export class ManagedProvisioner implements Provisioner {
  readonly name = "managed" as const;
  readonly #server: ProjectServer;
  readonly #log: (message: string) => void;
  #starting: Promise<void> | undefined;
  #admin: AdminConnections | undefined;

  constructor(server: ProjectServer, options: { log?: (message: string) => void } = {}) {
    this.#server = server;
    this.#log = options.log ?? (() => {});
  }

  /** Starts (or adopts) the server once; every operation waits for it. A failed start is retried by the next call. */
  start(): Promise<void> {
    this.#starting ??= this.#start().catch((error) => {
      this.#starting = undefined;
      throw error;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const outcome = await this.#server.start();
    this.#admin ??= new AdminConnections((database) => this.#server.connectionFor(database ?? "postgres"));
    // Databases no project owns are closed to project roles (superusers pass anyway).
    await revokePublicConnect(this.#admin, ["postgres", "template1"]);
    this.#log(`project databases' PostgreSQL server ${outcome}`);
  }

  async #ready(): Promise<AdminConnections> {
    await this.start();
    if (!this.#admin) throw new Error("the project databases' server is not started");
    return this.#admin;
  }

  /** One server holds every database: the same endpoint for all. */
  endpoint(_ref?: DatabaseRef): ServerEndpoint {
    return { kind: "unix", path: join(this.#server.socketDir, `.s.PGSQL.${PORT}`) };
  }

  async ensure(ref: DatabaseRef, options: EnsureOptions): Promise<void> {
    await ensureDatabase(await this.#ready(), ref, options);
  }

  async inspect(ref: DatabaseRef, signal?: AbortSignal): Promise<DatabaseFacts> {
    signal?.throwIfAborted();
    return inspectDatabase(await this.#ready(), ref);
  }

  async setPassword(ref: DatabaseRef, password: string): Promise<void> {
    await setRolePassword(await this.#ready(), ref, password);
  }

  async drop(ref: DatabaseRef): Promise<void> {
    await dropDatabase(await this.#ready(), ref);
  }

  async branch(source: DatabaseRef, target: DatabaseRef, options: EnsureOptions): Promise<void> {
    await branchDatabase(await this.#ready(), source, target, options);
  }

  toolConnection(ref: DatabaseRef, password: string) {
    // libpq takes a folder as host: the unix socket in it.
    return { host: this.#server.socketDir, port: PORT, user: ref.role, database: ref.name, password };
  }

  /** Ends the admin sessions; stops the server (a graceful shutdown) unless told to leave it running. */
  async close(options: { stopServer?: boolean } = {}): Promise<void> {
    const started = this.#starting;
    this.#starting = undefined;
    // A start under way is let finish, so that what it started can be stopped.
    await started?.catch(() => {});
    await this.#admin?.end().catch(() => {});
    this.#admin = undefined;
    // A server this process never started nor adopted is none of its business.
    if (started && (options.stopServer ?? true)) await this.#server.stop();
  }
}
