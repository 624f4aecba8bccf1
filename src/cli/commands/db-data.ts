// `outpost db <project> psql|dump|restore|branch|tables|query`: the verbs on a database's
// data, which `outpost db` (db.ts) hands over to. Each gets the project as given, the rest of
// the command line as typed (minus the project and the verb) and the global flags already read.
// `psql` runs in the project's running sandbox (where DATABASE_URL and PG* are set), in a
// persistent terminal like `outpost shell`; the others go through the API.
import { createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { z } from "zod";
import type { databaseBranch, databaseQueryAnswer, databaseRestoreAnswer, databaseTable } from "../../schemas/database-data.ts";
import { type GlobalFlags, parse, UsageError } from "../args.ts";
import { ApiClient, ApiError, resolveConnection } from "../client.ts";
import { printJson, table } from "../output.ts";
import { shellCommand } from "./shell.ts";

export type DbDataVerb = (project: string, args: string[], values: GlobalFlags) => Promise<number>;

type Branch = z.infer<typeof databaseBranch>;
type Table = z.infer<typeof databaseTable>;
type QueryAnswer = z.infer<typeof databaseQueryAnswer>;

/** Their lines for `outpost db`'s help. */
export const dbDataHelp = `outpost db <project> psql                    psql in the project's running sandbox (a terminal: Enter ~ . detaches)
outpost db <project> dump [-o FILE]          a plain SQL dump (pg_dump) to FILE or stdout
outpost db <project> restore FILE|-          loads SQL (a dump) into the database, all or nothing; best into an empty one (reset first)
outpost db <project> tables                  tables with row counts
outpost db <project> query SQL|-             one read-only statement (5 s, 500 rows at most)
outpost db <project> branch [--conversation CNV]    a copy of the database (for a conversation)
outpost db <project> branch list [--reveal]
outpost db <project> branch promote DBID --confirm NAME   the copy becomes the database (the current one is dropped)
outpost db <project> branch drop DBID`;

const base = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/database`;

export const dbDataVerbs: Record<string, DbDataVerb> = {
  async psql(project, args) {
    const { values, positionals } = parse(args, {});
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const connection = resolveConnection(values);
    const sandbox = await runningSandbox(new ApiClient(connection), project);
    return shellCommand(connection, sandbox, "psql");
  },

  async dump(project, args) {
    const { values, positionals } = parse(args, { output: { type: "string", short: "o" } });
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const api = new ApiClient(resolveConnection(values));
    const response = await api.send("GET", `${base(project)}/dump`, undefined, { accept: "text/plain" });
    const target = values.output;
    if (!target || target === "-") {
      await pipeline(response, process.stdout).catch((error: Error) => {
        throw broken(error);
      });
      return 0;
    }
    // Written next to the target and renamed: a dump that breaks off never looks whole.
    const temp = join(dirname(target), `.${basename(target)}.${process.pid}.outpost-tmp`);
    try {
      await pipeline(response, createWriteStream(temp, { mode: 0o600 }));
      renameSync(temp, target);
    } catch (error) {
      rmSync(temp, { force: true });
      throw broken(error as Error);
    }
    if (values.json) printJson({ dumped: project, to: target });
    else console.log(`dumped the database of ${project} to ${target}`);
    return 0;
  },

  async restore(project, args) {
    const { values, positionals } = parse(args, {});
    const [file, ...extra] = positionals;
    if (!file) throw new UsageError(`outpost db ${project} restore needs a file of SQL (or - for stdin)`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const api = new ApiClient(resolveConnection(values));
    const body = file === "-" ? process.stdin : createReadStream(file);
    const done = await api.upload<z.infer<typeof databaseRestoreAnswer>>("POST", `${base(project)}/restore`, body, { contentType: "application/sql" });
    if (values.json) printJson(done);
    else console.log(`restored ${file === "-" ? "stdin" : file} into ${done.name} (${done.durationMs} ms)`);
    return 0;
  },

  async tables(project, args) {
    const { values, positionals } = parse(args, {});
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const api = new ApiClient(resolveConnection(values));
    const list = await api.request<{ items: Table[] }>("GET", `${base(project)}/tables`);
    if (values.json) printJson(list);
    else if (list.items.length === 0) console.log("no tables");
    else
      console.log(
        table(
          list.items.map((t) => ({
            table: t.schema === "public" ? t.name : `${t.schema}.${t.name}`,
            rows: t.rows === null ? "?" : t.exact ? t.rows : `~${t.rows}`,
          })),
          ["table", "rows"],
        ),
      );
    return 0;
  },

  async query(project, args) {
    const { values, positionals } = parse(args, {});
    if (positionals.length !== 1) throw new UsageError(`outpost db ${project} query takes one SQL statement (quoted), or - to read it from stdin`);
    const sql = positionals[0] === "-" ? await readStdin() : (positionals[0] ?? "");
    const api = new ApiClient(resolveConnection(values));
    const answer = await api.request<QueryAnswer>("POST", `${base(project)}/query`, { sql });
    if (values.json) {
      printJson(answer);
      return 0;
    }
    if (answer.columns.length) {
      const names = answer.columns.map((c, i) => (answer.columns.findIndex((d) => d.name === c.name) === i ? c.name : `${c.name}_${i + 1}`));
      console.log(
        table(
          answer.rows.map((row) => Object.fromEntries(names.map((name, i) => [name, row[i] ?? "NULL"]))),
          names,
        ),
      );
    }
    console.log(
      `(${answer.rows.length} row${answer.rows.length === 1 ? "" : "s"}${answer.truncated ? ", truncated" : ""}; ${answer.command ?? "…"} in ${answer.durationMs} ms)`,
    );
    return 0;
  },

  async branch(project, args) {
    const { values, positionals } = parse(args, {
      conversation: { type: "string" },
      confirm: { type: "string" },
      reveal: { type: "boolean", default: false },
    });
    const [action = "create", id, ...extra] = positionals;
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    const api = new ApiClient(resolveConnection(values));
    const path = `${base(project)}/branches`;
    const needId = () => {
      if (!id) throw new UsageError(`outpost db ${project} branch ${action} needs a branch id (db_…; outpost db ${project} branch list)`);
      return encodeURIComponent(id);
    };
    switch (action) {
      case "create": {
        if (id) throw new UsageError(`unexpected argument '${id}'`);
        const made = await api.request<Branch>("POST", path, values.conversation ? { conversationId: values.conversation } : {});
        return showBranches([made], values.json, `branched: ${made.name}`);
      }
      case "list": {
        if (id) throw new UsageError(`unexpected argument '${id}'`);
        const list = await api.request<{ items: Branch[] }>("GET", `${path}${values.reveal ? "?reveal=true" : ""}`);
        return showBranches(list.items, values.json);
      }
      case "promote": {
        if (!values.confirm) throw new UsageError(`outpost db ${project} branch promote needs --confirm <project name>: the current database is dropped`);
        const promoted = await api.request<Branch>("POST", `${path}/${needId()}/promote`, { confirm: values.confirm });
        return showBranches([promoted], values.json, `promoted: ${promoted.name} is the database of ${project} now`);
      }
      case "drop":
        await api.request("DELETE", `${path}/${needId()}`);
        if (values.json) printJson({ dropped: id });
        else console.log(`dropped ${id}`);
        return 0;
      default:
        throw new UsageError(`unknown action 'branch ${action}': create, list, promote, drop`);
    }
  },
};

function showBranches(items: Branch[], json: boolean, note?: string): number {
  if (json) {
    printJson(items.length === 1 && note ? items[0] : { items });
    return 0;
  }
  if (note) console.log(note);
  if (items.length === 0) console.log("no branches");
  else console.log(table(items, ["id", "name", "status", "conversationId", "createdAt", "connectionString"]));
  return 0;
}

/** The project's running sandbox (its primary one first), where psql finds DATABASE_URL. */
async function runningSandbox(api: ApiClient, project: string): Promise<string> {
  type Sandbox = { id: string; name: string; primary: boolean; phase: string };
  const { items } = await api.request<{ items: Sandbox[] }>("GET", `/api/v1/sandboxes?${new URLSearchParams({ project, limit: "500" })}`);
  const live = items.filter((s) => s.phase !== "deleted");
  const running = live.find((s) => s.primary && s.phase === "running") ?? live.find((s) => s.phase === "running");
  if (running) return running.name;
  const any = live.find((s) => s.primary) ?? live[0];
  if (any) {
    throw new ApiError(409, "SANDBOX_NOT_RUNNING", `project ${project} has no running sandbox (${any.name} is ${any.phase})`, {
      hint: `start it: outpost sandbox start ${any.name}`,
    });
  }
  throw new ApiError(404, "NO_SANDBOX", `project ${project} has no sandbox to run psql in`, { hint: `create one: outpost sandbox create ${project}` });
}

function broken(error: Error): Error {
  if (error instanceof ApiError) return error;
  return new ApiError(0, "STREAM_BROKEN", `the dump broke off before its end (${error.message}); the server's log says why`);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
