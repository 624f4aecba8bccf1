// Project databases, pure: names on the server, and what a sandbox is told to connect with.
// Names are made from the project's name (people recognise them in psql) plus a random
// suffix (a project deleted and made again under the same name gets a new database).

/** Inside every sandbox the project's database is here (the supervisor bridges it). */
export const DATABASE_PORT = 5432;
export const DATABASE_HOST = "127.0.0.1";

/** `p_<project, with _ for ->_<suffix>`: a lower-case identifier ≤ 63 bytes, never quoted wrongly. */
export function databaseName(projectName: string, suffix: string): string {
  const base = projectName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 40);
  return `p_${base || "project"}_${suffix
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, 12)}`;
}

/** A branch of a database: its name with `_b_<suffix>` (cut to stay ≤ 63 bytes). */
export function branchName(parent: string, suffix: string): string {
  const tail = `_b_${suffix
    .toLowerCase()
    .replace(/[^a-z0-9]/g, "")
    .slice(0, 8)}`;
  return `${parent.slice(0, 63 - tail.length)}${tail}`;
}

export interface DatabaseLogin {
  name: string;
  role: string;
  password: string;
}

/** The variables libpq, node-postgres, Prisma and Drizzle read. */
export function databaseEnv(login: DatabaseLogin): Record<string, string> {
  const url = `postgresql://${encodeURIComponent(login.role)}:${encodeURIComponent(login.password)}@${DATABASE_HOST}:${DATABASE_PORT}/${encodeURIComponent(login.name)}`;
  return {
    DATABASE_URL: url,
    PGHOST: DATABASE_HOST,
    PGPORT: String(DATABASE_PORT),
    PGUSER: login.role,
    PGPASSWORD: login.password,
    PGDATABASE: login.name,
  };
}
