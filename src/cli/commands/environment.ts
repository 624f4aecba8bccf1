// `outpost environment create|list|get|update|delete|build|logs`: environments (issue 20),
// installation-wide: a base image, a setup script run once as root inside and cached, a
// maintenance script run at every start, the setup phase's env and egress, a warm pool.
// Not `env`: that word means a project's variables everywhere else in the CLI.
// Scripts come from files (`-` reads stdin). `--setup-env` and `--setup-allow` edit the
// stored sets on update (the API replaces what it is given), so update reads them first.
import { readFileSync } from "node:fs";
import type { Environment, UpdateEnvironmentBody } from "../../schemas/environments.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";
import { egressFields, egressText, parseEgressFlags } from "./project-egress.ts";

export const environmentHelp = `outpost environment create <name> [--image IMAGE] [--setup-file FILE] [--maintenance-file FILE] [--setup-env KEY=VALUE]...
                           [--setup-egress LEVEL] [--setup-allow HOST[:PORT]]... [--pool-size N]
outpost environment update <name> [the same flags] [--unset-setup-env KEY]... [--no-setup] [--no-maintenance]
    --image: host (the host's /usr, the default), debian:<suite>, outpost:default (Debian with git, build tools,
    Python, Node, psql…), oci-layout:<path>[@ref] or oci-archive:<path>[@ref]. Images need Outpost to run as root.
    --setup-file: run once as root inside and cached (FILE - reads stdin); --maintenance-file: at every start.
    --setup-env and --setup-allow: the setup script's env and egress (added to what is stored).
outpost environment list
outpost environment get <name>
outpost environment delete <name>                  refused while a project uses it
outpost environment build <name> [--wait]          --wait: follows the log; exit code 1 when the build fails
outpost environment logs <name> [--follow]         the latest build's log
    A project uses one with \`outpost project update <project> --environment <name>\` (none: the host's /usr).`;

const OPTIONS = {
  image: { type: "string" },
  "setup-file": { type: "string" },
  "maintenance-file": { type: "string" },
  "no-setup": { type: "boolean", default: false },
  "no-maintenance": { type: "boolean", default: false },
  "setup-env": { type: "string", multiple: true },
  "unset-setup-env": { type: "string", multiple: true },
  "setup-egress": { type: "string" },
  "setup-allow": { type: "string", multiple: true },
  "pool-size": { type: "string" },
  wait: { type: "boolean", default: false },
  follow: { type: "boolean", default: false },
} as const;

type Values = ReturnType<typeof parse<typeof OPTIONS>>["values"];
type Build = NonNullable<Environment["lastBuild"]>;
type BuildLog = Build & { log: string };

/** What create and update send besides the name (the API's own body type). */
type Fields = UpdateEnvironmentBody;

/** How often `build --wait` and `logs --follow` look at the build (its log is written about once a second). */
const POLL_MS = 500;

export async function environment(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS);
  const [verb, name, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (!verb) throw new UsageError("outpost environment needs a verb: create, list, get, update, delete, build, logs");
  if (values.wait && verb !== "build") throw new UsageError("--wait goes with `outpost environment build`");
  if (values.follow && verb !== "logs") throw new UsageError("--follow goes with `outpost environment logs`");
  if (verb !== "create" && verb !== "update" && hasFieldFlags(values)) throw new UsageError(`the environment's flags go with create and update, not '${verb}'`);
  const api = new ApiClient(resolveConnection(values));
  const needName = () => {
    if (!name) throw new UsageError(`outpost environment ${verb} needs an environment name`);
    return name;
  };
  const path = () => `/api/v1/environments/${encodeURIComponent(needName())}`;

  switch (verb) {
    case "create": {
      if (values["unset-setup-env"]?.length || values["no-setup"] || values["no-maintenance"])
        throw new UsageError("--unset-setup-env, --no-setup and --no-maintenance go with `outpost environment update`");
      const body = { name: needName(), ...fieldsFrom(values, null) };
      return show(await api.create<Environment>("/api/v1/environments", body), values.json);
    }
    case "update": {
      if (!hasFieldFlags(values)) throw new UsageError("nothing to update: pass --image, --setup-file, --maintenance-file, --setup-env, --pool-size, …");
      const current = editsStoredSets(values) ? await api.request<Environment>("GET", path()) : null;
      return show(await api.request<Environment>("PATCH", path(), fieldsFrom(values, current)), values.json);
    }
    case "get":
      return show(await api.request<Environment>("GET", path()), values.json);
    case "list": {
      const { items } = await api.request<{ items: Environment[] }>("GET", "/api/v1/environments");
      if (values.json) printJson({ items });
      else
        console.log(
          table(
            items.map((e) => ({ ...e, pool: e.poolSize, projects: e.projects.join(", ") || "-", "last build": buildText(e.lastBuild) })),
            ["name", "image", "cache", "pool", "projects", "last build"],
          ),
        );
      return 0;
    }
    case "delete":
      await api.request("DELETE", path());
      if (!values.json) console.log(`deleted environment ${name}`);
      return 0;
    case "build": {
      const started = await api.request<Build>("POST", `${path()}/builds`);
      if (!values.wait) {
        if (values.json) printJson(started);
        else console.log(`build ${started.id} started; follow it with: outpost environment logs ${name} --follow`);
        return 0;
      }
      return followBuild(api, path(), values.json);
    }
    case "logs": {
      if (values.follow) return followBuild(api, path(), values.json);
      const build = await api.request<BuildLog>("GET", `${path()}/builds/latest`);
      if (values.json) printJson(build);
      else {
        process.stdout.write(build.log);
        console.error(buildSummary(build));
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown verb 'environment ${verb}'`);
  }
}

/**
 * Prints the latest build's log as it grows until the build ends; exit code 0 when it is
 * ready, 1 when it failed. Follows whichever build is the latest: a build started while
 * this one runs is the one that decides what sandboxes get.
 */
async function followBuild(api: ApiClient, path: string, json: boolean): Promise<number> {
  let printed = "";
  for (;;) {
    const build = await api.request<BuildLog>("GET", `${path}/builds/latest`);
    if (!json) {
      process.stdout.write(newPart(printed, build.log));
      printed = build.log;
    }
    if (build.state !== "building") {
      if (json) printJson(build);
      else console.error(buildSummary(build));
      return build.state === "ready" ? 0 : 1;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** What `current` adds to the log printed so far. The kept log is its tail (a long one loses
 *  its first lines), so the new part is looked for after the end of what was printed. */
export function newPart(printed: string, current: string): string {
  if (current.startsWith(printed)) return current.slice(printed.length);
  const tail = printed.slice(-200);
  const at = tail ? current.lastIndexOf(tail) : -1;
  return at >= 0 ? current.slice(at + tail.length) : current;
}

function buildSummary(build: Build): string {
  const what = build.state === "ready" ? `ready${build.cached ? " (cached: nothing to run)" : ""}` : build.state;
  return `build ${build.id}: ${what}${build.error ? `: ${build.error}` : ""}`;
}

function buildText(build: Build | null): string {
  if (!build) return "never built";
  return `${build.state}${build.cached ? " (cached)" : ""} ${build.finishedAt ?? build.startedAt}`;
}

function hasFieldFlags(values: Values): boolean {
  return (
    values.image !== undefined ||
    values["setup-file"] !== undefined ||
    values["maintenance-file"] !== undefined ||
    values["no-setup"] ||
    values["no-maintenance"] ||
    (values["setup-env"]?.length ?? 0) > 0 ||
    (values["unset-setup-env"]?.length ?? 0) > 0 ||
    values["setup-egress"] !== undefined ||
    (values["setup-allow"]?.length ?? 0) > 0 ||
    values["pool-size"] !== undefined
  );
}

/** Whether the change edits the stored setup env or egress allow list (read first). */
function editsStoredSets(values: Values): boolean {
  return (values["setup-env"]?.length ?? 0) + (values["unset-setup-env"]?.length ?? 0) + (values["setup-allow"]?.length ?? 0) > 0;
}

/** The request's fields from the flags; `current` (on update) holds the sets the flags edit. */
function fieldsFrom(values: Values, current: Environment | null): Fields {
  const fields: Fields = {};
  if (values.image !== undefined) fields.image = values.image;
  if (values["setup-file"] !== undefined && values["no-setup"]) throw new UsageError("--setup-file and --no-setup contradict each other");
  if (values["maintenance-file"] !== undefined && values["no-maintenance"])
    throw new UsageError("--maintenance-file and --no-maintenance contradict each other");
  if (values["setup-file"] !== undefined) fields.setup = readScript("--setup-file", values["setup-file"]);
  if (values["no-setup"]) fields.setup = null;
  if (values["maintenance-file"] !== undefined) fields.maintenance = readScript("--maintenance-file", values["maintenance-file"]);
  if (values["no-maintenance"]) fields.maintenance = null;
  const added = values["setup-env"] ?? [];
  const removed = values["unset-setup-env"] ?? [];
  if (added.length || removed.length) {
    const env: Record<string, string> = { ...current?.setupEnv };
    for (const key of removed) {
      if (!Object.hasOwn(env, key)) throw new UsageError(`--unset-setup-env ${key}: environment ${current?.name ?? ""} has no such setup variable`);
      delete env[key];
    }
    for (const pair of added) {
      const eq = pair.indexOf("=");
      if (eq < 1) throw new UsageError(`--setup-env takes KEY=VALUE, got '${pair}'`);
      env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    fields.setupEnv = env;
  }
  const egress = parseEgressFlags({ egress: values["setup-egress"], allow: values["setup-allow"] });
  const change = egressFields(egress, current?.setupEgress ?? { allow: [], deny: [] }, current?.name ?? "").egress;
  if (change) fields.setupEgress = change;
  if (values["pool-size"] !== undefined) {
    const size = /^\d+$/.test(values["pool-size"]) ? Number(values["pool-size"]) : Number.NaN;
    if (!Number.isSafeInteger(size)) throw new UsageError(`--pool-size takes a whole number of sandboxes, got '${values["pool-size"]}'`);
    fields.poolSize = size;
  }
  return fields;
}

/** A script file's text (`-`: stdin), or a usage error that names the flag and the file. */
function readScript(flag: string, file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (error as Error).message;
    throw new UsageError(`cannot read ${flag} ${file}: ${why}`);
  }
}

function show(e: Environment, json: boolean): number {
  if (json) {
    printJson(e);
    return 0;
  }
  const env = Object.entries(e.setupEnv);
  console.log(
    keyValues([
      ["name", e.name],
      ["id", e.id],
      ["image", e.image],
      ["cache", cacheText(e.cache)],
      ["pool size", e.poolSize],
      ["projects", e.projects.join(", ") || "(none)"],
      ["setup env", env.map(([k, v]) => `${k}=${v}`).join(", ") || "(none)"],
      ["setup egress", egressText(e.setupEgress)],
      ["last build", e.lastBuild ? `${buildText(e.lastBuild)} (${e.lastBuild.id})${e.lastBuild.error ? `: ${e.lastBuild.error}` : ""}` : "never built"],
      ["created", e.createdAt],
    ]),
  );
  for (const [label, script] of [
    ["setup script", e.setup],
    ["maintenance script", e.maintenance],
  ] as const) {
    console.log(`${label}:${script ? `\n${script.replace(/\n$/, "").replace(/^/gm, "  | ")}` : " (none)"}`);
  }
  return 0;
}

function cacheText(cache: Environment["cache"]): string {
  if (cache === "none") return "none (nothing to build: the host's /usr)";
  if (cache === "ready") return "ready (built)";
  return "stale (the next build or sandbox start makes it)";
}
