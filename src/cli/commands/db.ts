// `outpost db <project> [info|create|reset|reset-password|delete]`: a project's PostgreSQL
// database through the API. The verbs on its data (psql, dump, restore, branch, …) live in
// db-data.ts; this hands them the command line as typed.
import { parseArgs } from "node:util";
import type { Database } from "../../schemas/databases.ts";
import { GLOBAL_OPTIONS, type GlobalFlags, parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson } from "../output.ts";
import { dbDataHelp, dbDataVerbs } from "./db-data.ts";

export const dbHelp = `outpost db <project> [info] [--reveal]      status, size, version, extensions, DATABASE_URL (--reveal: with its password)
outpost db <project> create                  makes the project's database (or makes a missing one again, empty)
outpost db <project> reset-password          a new password; new commands in its sandboxes get it
outpost db <project> reset --confirm NAME    drops it and makes it again, empty (NAME: the project's name)
outpost db <project> delete --confirm NAME   drops it and its data for good${dbDataHelp ? `\n${dbDataHelp}` : ""}`;

const OPTIONS = {
  reveal: { type: "boolean", default: false },
  confirm: { type: "string" },
} as const;

const VERBS = ["info", "create", "reset-password", "reset", "delete"] as const;
type Verb = (typeof VERBS)[number];

export async function db(argv: string[]): Promise<number> {
  const { project, verb, rest } = splitProjectAndVerb(argv);
  if (!project) throw new UsageError("outpost db needs a project id or name");
  if (verb && !(VERBS as readonly string[]).includes(verb)) {
    const data = Object.hasOwn(dbDataVerbs, verb) ? dbDataVerbs[verb] : undefined;
    if (!data) throw new UsageError(`unknown verb 'db ${verb}'`);
    return data(project, rest, globalFlags(rest));
  }
  const { values, positionals } = parse(rest, OPTIONS);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const chosen = (verb ?? "info") as Verb;
  if (values.reveal && chosen !== "info") throw new UsageError("--reveal goes with `outpost db <project> info`");
  if (values.confirm !== undefined && chosen !== "reset" && chosen !== "delete") throw new UsageError("--confirm goes with reset and delete");

  const api = new ApiClient(resolveConnection(values));
  const path = `/api/v1/projects/${encodeURIComponent(project)}/database`;
  const confirm = () => {
    if (!values.confirm) throw new UsageError(`outpost db ${project} ${chosen} needs --confirm <project name>: it drops the database's data`);
    return values.confirm;
  };
  switch (chosen) {
    case "info":
      return show(await api.request<Database>("GET", `${path}${values.reveal ? "?reveal=true" : ""}`), values.json);
    case "create":
      return show(await api.request<Database>("POST", path), values.json);
    case "reset-password":
      return show(await api.request<Database>("POST", `${path}/reset-password`), values.json, "new password set");
    case "reset":
      return show(await api.request<Database>("POST", `${path}/reset`, { confirm: confirm() }), values.json, "reset: the database is empty");
    case "delete":
      await api.request("DELETE", `${path}?confirm=${encodeURIComponent(confirm())}`);
      if (values.json) printJson({ deleted: true });
      else console.log(`deleted the database of ${project}`);
      return 0;
  }
}

function show(database: Database, json: boolean, note?: string): number {
  if (json) {
    printJson(database);
    return 0;
  }
  if (note) console.log(note);
  console.log(
    keyValues([
      ["database", database.name],
      ["status", database.status === "missing" ? "missing (recreate it with `outpost db <project> create`)" : database.status],
      ["id", database.id],
      ["provisioner", database.provisioner],
      ["version", database.serverVersion ? `PostgreSQL ${database.serverVersion}` : null],
      ["size", database.sizeBytes === null ? null : bytes(database.sizeBytes)],
      ["url", database.connectionString],
      ["extensions", database.extensions.length ? database.extensions.map((e) => e.name).join(", ") : null],
      ["error", database.error],
    ]),
  );
  return 0;
}

const bytes = (n: number) => (n < 1024 * 1024 ? `${Math.round(n / 1024)} KiB` : `${(n / (1024 * 1024)).toFixed(1)} MiB`);

/**
 * The project (first word) and the verb (second), wherever global flags sit around them; the
 * rest of the line as typed, for the verb to parse with its own flags.
 */
function splitProjectAndVerb(argv: string[]): { project?: string; verb?: string; rest: string[] } {
  const { tokens } = parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...OPTIONS }, allowPositionals: true, strict: false, tokens: true });
  const words = tokens.filter((t) => t.kind === "positional").slice(0, 2);
  const taken = new Set(words.map((t) => t.index));
  return { project: words[0]?.value, verb: words[1]?.value, rest: argv.filter((_, i) => !taken.has(i)) };
}

function globalFlags(argv: string[]): GlobalFlags {
  const { values } = parseArgs({ args: argv, options: GLOBAL_OPTIONS, allowPositionals: true, strict: false });
  return {
    url: typeof values.url === "string" ? values.url : undefined,
    token: typeof values.token === "string" ? values.token : undefined,
    "data-dir": typeof values["data-dir"] === "string" ? values["data-dir"] : undefined,
    json: values.json === true,
  };
}
