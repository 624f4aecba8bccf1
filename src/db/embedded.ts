// The embedded PostgreSQL server that Outpost runs itself, under <data dir>/postgres:
//   data/         PGDATA (initdb once)
//   run/          the unix socket (no TCP port: listen_addresses is empty)
//   password      the random superuser password (0600)
//   server.log    the server's own log
//   runtime/      a copy of the binaries, only when the database account cannot reach node_modules
// The server is started detached (own session), so `kill -9` of the control plane leaves it
// running and the next start adopts it; a server that died is simply started again
// (PostgreSQL replays its WAL). Only a graceful shutdown of Outpost stops it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import pg from "pg";
import { StartupError } from "../domain/errors.ts";
import { type Account, firstBlockingAncestor } from "./account.ts";
import type { PgBinaries } from "./binaries.ts";

const PORT = 5432;
/** sun_path is 108 bytes including the terminator on Linux. */
const MAX_SOCKET_PATH = 107;

export interface EmbeddedPostgresOptions {
  /** <data dir>/postgres */
  dir: string;
  binaries: PgBinaries;
  /** Run the server as this account (when Outpost runs as root). */
  account?: Account;
  log?: (message: string) => void;
  /** Names this server in log lines (the project databases' server is a second one). */
  label?: string;
}

export type StartOutcome = "started" | "adopted";

export class EmbeddedPostgres {
  readonly dir: string;
  readonly dataDir: string;
  readonly socketDir: string;
  readonly #account?: Account;
  readonly #log: (message: string) => void;
  readonly #label: string;
  #binaries: PgBinaries;

  constructor(options: EmbeddedPostgresOptions) {
    this.dir = options.dir;
    this.dataDir = join(options.dir, "data");
    this.socketDir = join(options.dir, "run");
    this.#binaries = options.binaries;
    this.#account = options.account;
    this.#log = options.log ?? (() => {});
    this.#label = options.label ?? "embedded PostgreSQL";
    const socketPath = join(this.socketDir, `.s.PGSQL.${PORT}`);
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new StartupError(`the database socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes`, "choose a shorter OUTPOST_DATA_DIR");
    }
  }

  get passwordFile(): string {
    return join(this.dir, "password");
  }

  get initialized(): boolean {
    return existsSync(join(this.dataDir, "PG_VERSION"));
  }

  /** initdb once; a second call is a no-op. A half-done initdb (killed midway) is redone. */
  async init(): Promise<void> {
    this.#prepareFolders();
    if (this.initialized) return;
    if (existsSync(this.dataDir)) rmSync(this.dataDir, { recursive: true, force: true });
    if (!existsSync(this.passwordFile)) this.#writeOwned(this.passwordFile, randomBytes(24).toString("base64url"));
    this.#log(`initializing the ${this.#label} database`);
    await this.#run(this.#binaries.initdb, [
      "-D",
      this.dataDir,
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${this.passwordFile}`,
      "--encoding=UTF8",
      "--locale=C",
      "--no-instructions",
    ]);
    // Paths change if the data dir moves, so they live in a file rewritten at every start.
    writeFileSync(join(this.dataDir, "postgresql.conf"), "\ninclude_if_exists = 'outpost.conf'\n", { flag: "a" });
  }

  /** Starts the server, or adopts one already running on this data dir. */
  async start(): Promise<StartOutcome> {
    if (!this.initialized) await this.init();
    this.#prepareFolders();
    if (await this.isRunning()) {
      this.#log(`adopting the running ${this.#label} server`);
      return "adopted";
    }
    this.#writeOwned(join(this.dataDir, "outpost.conf"), this.#serverConfig());
    await this.#run(this.#binaries.pgCtl, ["start", "-D", this.dataDir, "-l", join(this.dir, "server.log"), "-w", "-t", "60", "-s"], { detached: true });
    this.#log(`started the ${this.#label} server`);
    return "started";
  }

  async stop(): Promise<void> {
    if (!(await this.isRunning())) return;
    await this.#run(this.#binaries.pgCtl, ["stop", "-D", this.dataDir, "-m", "fast", "-w", "-t", "60", "-s"]);
  }

  /** True when a postmaster is alive on this data dir (pg_ctl checks the pid file's process). */
  async isRunning(): Promise<boolean> {
    if (!this.initialized) return false;
    const code = await this.#run(this.#binaries.pgCtl, ["status", "-D", this.dataDir], { allowFailure: true });
    return code === 0;
  }

  /** Can we connect and run a query? */
  async health(): Promise<boolean> {
    const client = new pg.Client(this.connectionFor("postgres"));
    try {
      await client.connect();
      await client.query("select 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  }

  /** node-postgres connection settings for one database in this server. */
  connectionFor(database: string): pg.ClientConfig {
    return { host: this.socketDir, port: PORT, user: "postgres", password: readFileSync(this.passwordFile, "utf8").trim(), database };
  }

  /** Creates the database if it does not exist yet (idempotent). */
  async ensureDatabase(database: string): Promise<void> {
    const client = new pg.Client(this.connectionFor("postgres"));
    await client.connect();
    try {
      const found = await client.query("select 1 from pg_database where datname = $1", [database]);
      if (found.rowCount === 0) await client.query(`create database ${pg.escapeIdentifier(database)}`);
    } catch (error) {
      // Two starts racing: the other one created it first.
      if ((error as { code?: string }).code !== "42P04") throw error;
    } finally {
      await client.end();
    }
  }

  #serverConfig(): string {
    const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;
    return [
      "# Written by Outpost at every start; edit postgresql.conf for your own settings.",
      "listen_addresses = ''",
      `unix_socket_directories = ${quote(this.socketDir)}`,
      "unix_socket_permissions = 0700",
      `port = ${PORT}`,
      "max_connections = 200",
      "shared_buffers = 32MB",
      "dynamic_shared_memory_type = posix",
      "huge_pages = off",
      "",
    ].join("\n");
  }

  /** Folders owned by the database account; binaries copied where the account can reach them. */
  #prepareFolders(): void {
    for (const folder of [this.dir, this.socketDir]) {
      mkdirSync(folder, { recursive: true, mode: 0o700 });
      chmodSync(folder, 0o700);
      if (this.#account) chownSync(folder, this.#account.uid, this.#account.gid);
    }
    if (this.#account) {
      const blockedData = firstBlockingAncestor(this.dir, this.#account);
      if (blockedData) {
        throw new StartupError(
          `the database account '${this.#account.name}' cannot reach ${this.dir}: ${blockedData} is closed to other users`,
          `run: chmod o+x ${blockedData}  (or set OUTPOST_DATA_DIR to a folder under /var/lib)`,
        );
      }
      this.#useReachableBinaries(this.#account);
    }
  }

  /** node_modules under /root is closed to other accounts: copy the binaries into our folder then. */
  #useReachableBinaries(account: Account): void {
    if (!firstBlockingAncestor(this.#binaries.postgres, account)) return;
    const runtime = join(this.dir, "runtime");
    const source = dirname(this.#binaries.binDir);
    if (!existsSync(join(runtime, "bin", "postgres"))) {
      rmSync(runtime, { recursive: true, force: true });
      cpSync(source, runtime, { recursive: true, verbatimSymlinks: true });
      chmodSync(runtime, 0o755);
    }
    const bin = join(runtime, "bin");
    this.#binaries = { binDir: bin, initdb: join(bin, "initdb"), pgCtl: join(bin, "pg_ctl"), postgres: join(bin, "postgres") };
  }

  #writeOwned(path: string, content: string): void {
    writeFileSync(path, content, { mode: 0o600 });
    if (this.#account) chownSync(path, this.#account.uid, this.#account.gid);
  }

  /** Runs a PostgreSQL tool as the database account; resolves its exit code. */
  #run(command: string, args: string[], options: { detached?: boolean; allowFailure?: boolean } = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      let output = "";
      const child = spawn(command, args, {
        // pg_ctl start leaves the postmaster in this session; a session of its own keeps it
        // out of the control plane's process group, so killing that group spares it.
        detached: options.detached ?? false,
        stdio: ["ignore", "pipe", "pipe"],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LC_ALL: "C", TZ: "UTC" },
        cwd: this.dir,
        ...(this.#account ? { uid: this.#account.uid, gid: this.#account.gid } : {}),
      });
      const collect = (chunk: Buffer) => {
        output = (output + chunk.toString("utf8")).slice(-4000);
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      child.on("error", reject);
      child.on("close", (code) => {
        if (code === 0 || options.allowFailure) return resolve(code ?? 1);
        const tool = command.split("/").pop();
        reject(
          new StartupError(
            `${tool} ${args[0]} failed (exit ${code}): ${output.trim().split("\n").slice(-3).join(" | ")}`,
            `see ${join(this.dir, "server.log")}; \`outpost doctor\` checks the installation`,
          ),
        );
      });
    });
  }
}
