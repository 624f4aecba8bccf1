// The server provisioner: one database and one role per project on an existing PostgreSQL,
// given by an admin URL (OUTPOST_DATABASE_ADMIN_URL: a superuser, or a role with CREATEROLE
// and CREATEDB). Its authentication (pg_hba) is the server admin's: on a trust server (the
// test machine's) passwords prove nothing, and databases Outpost did not make (`postgres`)
// keep whatever CONNECT rights their admin gave them.
import { StartupError } from "../../domain/errors.ts";
import type { DatabaseFacts, DatabaseRef, EnsureOptions, Provisioner, ServerEndpoint } from "./provisioner.ts";
import { AdminConnections, branchDatabase, dropDatabase, ensureDatabase, inspectDatabase, setRolePassword } from "./sql.ts";

/** libpq's `postgresql://user@/db?host=/run/postgresql` (a user, no host) is no WHATWG URL:
 *  parsed with a stand-in host, which is taken out again when written back. */
const NO_HOST = "outpost-no-host.invalid";

function parseUrl(adminUrl: string): URL {
  return URL.canParse(adminUrl) ? new URL(adminUrl) : new URL(adminUrl.replace("@/", `@${NO_HOST}/`));
}

/** Where the admin URL points: a TCP host and port, or a unix socket folder (`?host=/run/postgresql`). */
export function serverAddress(adminUrl: string): { host: string; port: number; socketDir: string | null } {
  const url = parseUrl(adminUrl);
  const port = Number(url.searchParams.get("port") || url.port || 5432);
  // new URL keeps the brackets of an IPv6 literal; sockets want the bare address.
  const hostname = url.hostname === NO_HOST ? "" : decodeURIComponent(url.hostname).replace(/^\[(.*)\]$/, "$1");
  const host = url.searchParams.get("host") || hostname || "localhost";
  return host.startsWith("/") ? { host, port, socketDir: host } : { host, port, socketDir: null };
}

/** The admin URL, pointed at another database (every other parameter kept). */
function urlFor(adminUrl: string, database: string | null): string {
  const url = parseUrl(adminUrl);
  if (database !== null) url.pathname = `/${encodeURIComponent(database)}`;
  else if (url.pathname === "" || url.pathname === "/") url.pathname = "/postgres";
  return url.toString().replace(`@${NO_HOST}/`, "@/");
}

export class ServerProvisioner implements Provisioner {
  readonly name = "server" as const;
  readonly #adminUrl: string;
  readonly #admin: AdminConnections;
  readonly #address: ReturnType<typeof serverAddress>;

  constructor(adminUrl: string) {
    this.#adminUrl = adminUrl;
    this.#address = serverAddress(adminUrl);
    this.#admin = new AdminConnections((database) => ({ connectionString: urlFor(this.#adminUrl, database) }));
  }

  /** Checks the server answers and the admin may make roles and databases. */
  async start(): Promise<void> {
    const rights = await this.#admin
      .withClient((client) =>
        client.query<{ rolsuper: boolean; rolcreaterole: boolean; rolcreatedb: boolean }>(
          "select rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user",
        ),
      )
      .catch((error: Error) => {
        throw new StartupError(
          `cannot reach OUTPOST_DATABASE_ADMIN_URL: ${error.message}`,
          "check OUTPOST_DATABASE_ADMIN_URL, or set OUTPOST_DATABASE_PROVISIONER=managed",
        );
      });
    const role = rights.rows[0];
    if (!role?.rolsuper && !(role?.rolcreaterole && role?.rolcreatedb)) {
      throw new StartupError(
        "OUTPOST_DATABASE_ADMIN_URL's role may not create roles and databases",
        "use a superuser, or a role with CREATEROLE and CREATEDB, in OUTPOST_DATABASE_ADMIN_URL",
      );
    }
  }

  /** One server holds every database: the same endpoint for all. */
  endpoint(_ref?: DatabaseRef): ServerEndpoint {
    const { host, port, socketDir } = this.#address;
    return socketDir ? { kind: "unix", path: `${socketDir}/.s.PGSQL.${port}` } : { kind: "tcp", host, port };
  }

  ensure(ref: DatabaseRef, options: EnsureOptions): Promise<void> {
    return ensureDatabase(this.#admin, ref, options);
  }

  inspect(ref: DatabaseRef, signal?: AbortSignal): Promise<DatabaseFacts> {
    signal?.throwIfAborted();
    return inspectDatabase(this.#admin, ref);
  }

  setPassword(ref: DatabaseRef, password: string): Promise<void> {
    return setRolePassword(this.#admin, ref, password);
  }

  drop(ref: DatabaseRef): Promise<void> {
    return dropDatabase(this.#admin, ref);
  }

  branch(source: DatabaseRef, target: DatabaseRef, options: EnsureOptions): Promise<void> {
    return branchDatabase(this.#admin, source, target, options);
  }

  toolConnection(ref: DatabaseRef, password: string) {
    return { host: this.#address.host, port: this.#address.port, user: ref.role, database: ref.name, password };
  }

  async close(): Promise<void> {
    await this.#admin.end();
  }
}
