// `outpost secret set|list|unset`: a project's variables of every kind (env, secret,
// credential). Values go one way: the API never returns a secret's or a credential's value,
// so neither list nor set prints one. Without VALUE on the command line, `set` reads it from
// stdin, which keeps it out of the shell's history and the process list.
import type { z } from "zod";
import { type InjectRule, parseInjectRule } from "../../domain/credentials.ts";
import { envNameProblem } from "../../domain/names.ts";
import type { variable as variableSchema } from "../../schemas/projects.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";

type Variable = z.infer<typeof variableSchema>;

export const secretHelp = `outpost secret set <project> NAME [VALUE] [--kind env|secret|credential] [--inject HOST:HEADER[:raw|bearer|basic]]...
    Without VALUE, reads it from stdin (all of it, less one trailing newline): e.g. \`outpost secret set p TOKEN < token.txt\`.
    env: commands get it as it is; secret (the default): commands get it, and it is redacted from output Outpost keeps;
    credential: never enters the sandbox; commands see a placeholder, and the value is put into requests to the
    --inject hosts only (known names such as ANTHROPIC_API_KEY or GITHUB_TOKEN have default hosts).
outpost secret list <project>
outpost secret unset <project> NAME`;

/** Every kind, typed so that a kind the API adds and the CLI misses fails to compile. */
const KINDS: Record<Variable["kind"], true> = { env: true, secret: true, credential: true };

export async function secret(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { kind: { type: "string" }, inject: { type: "string", multiple: true } });
  const [verb, project, name, value, ...extra] = positionals;
  if (!verb) throw new UsageError("outpost secret needs a verb: set, list, unset");
  if (!project) throw new UsageError(`outpost secret ${verb} needs a project id or name`);
  const unexpected = verb === "set" ? extra[0] : verb === "list" ? name : value;
  if (unexpected !== undefined) throw new UsageError(`unexpected argument '${unexpected}'`);
  if ((values.kind !== undefined || values.inject !== undefined) && verb !== "set") throw new UsageError("--kind and --inject go with `outpost secret set`");
  const base = `/api/v1/projects/${encodeURIComponent(project)}/secrets`;
  const needName = () => {
    if (!name) throw new UsageError(`outpost secret ${verb} needs a variable NAME`);
    const problem = envNameProblem(name);
    if (problem) throw new UsageError(`the name '${name}' ${problem}`);
    return name;
  };

  switch (verb) {
    case "set": {
      const variable = needName();
      const kind = values.kind ?? "secret";
      if (!Object.hasOwn(KINDS, kind)) throw new UsageError(`--kind must be one of ${Object.keys(KINDS).join(", ")}, got '${kind}'`);
      const inject = (values.inject ?? []).map((text) => {
        const rule = parseInjectRule(text);
        if (typeof rule === "string") throw new UsageError(`--inject ${rule}`);
        return rule;
      });
      if (inject.length > 0 && kind !== "credential") throw new UsageError("--inject goes with --kind credential");
      // Everything that can be wrong with the line is checked before the value is read.
      const secretValue = value ?? (await readStdin(variable));
      if (secretValue === "") throw new UsageError(`the value of ${variable} is empty: give it as VALUE or on stdin`);
      const api = new ApiClient(resolveConnection(values));
      const set = await api.request<Variable>("POST", base, { name: variable, value: secretValue, kind, ...(inject.length ? { inject } : {}) });
      if (values.json) printJson(set);
      else console.log(keyValues([["name", set.name], ["kind", set.kind], ...credentialLines(set)]));
      return 0;
    }
    case "list": {
      const api = new ApiClient(resolveConnection(values));
      const page = await api.request<{ items: Variable[] }>("GET", base);
      if (values.json) printJson(page);
      else
        console.log(
          table(
            page.items.map((v) => ({ name: v.name, kind: v.kind, inject: injectText(v.inject) || null, updated: v.updatedAt })),
            ["name", "kind", "inject", "updated"],
          ),
        );
      return 0;
    }
    case "unset": {
      const variable = needName();
      const api = new ApiClient(resolveConnection(values));
      await api.request("DELETE", `${base}/${encodeURIComponent(variable)}`);
      if (!values.json) console.log(`unset ${variable} in project ${project}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown verb 'secret ${verb}'`);
  }
}

/** All of stdin, less ONE trailing newline (what `echo` or a file's last line adds). */
async function readStdin(name: string): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write(`value of ${name} (then Enter and Ctrl-D):\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text.replace(/\r?\n$/, "");
}

/** What commands in a sandbox see instead of a credential, and where its value goes. */
function credentialLines(variable: Variable): [string, unknown][] {
  if (variable.kind !== "credential") return [];
  return [
    ["placeholder", variable.placeholder],
    ["inject", injectText(variable.inject)],
  ];
}

/** The rules as `--inject` takes them: `api.github.com:authorization:bearer, …`. */
const injectText = (rules: InjectRule[]) => rules.map((r) => `${r.host}:${r.header}:${r.format}`).join(", ");
