// `outpost project create|list|get|update|delete`, and `outpost project member …`.

import { readFileSync } from "node:fs";
import { MAX_IDLE_TIMEOUT_SECONDS } from "../../domain/idle.ts";
import type { Project } from "../../schemas/projects.ts";
import { parse, UsageError } from "../args.ts";
import { ApiClient, resolveConnection } from "../client.ts";
import { keyValues, printJson, table } from "../output.ts";
import { AGENT_OPTIONS, agentChange, agentFlagsHelp, agentText } from "./project-agent.ts";
import { deployKeyHelp, projectDeployKey } from "./project-deploy-key.ts";
import { EGRESS_OPTIONS, editsRuleLists, egressFields, egressText, hasEgressFlags, parseEgressFlags, tokenBudgetText } from "./project-egress.ts";
import { GIT_OPTIONS, gitChange, gitFlagsHelp } from "./project-git.ts";
import { memberHelp, projectMember } from "./project-member.ts";

export const projectHelp = `outpost project create <name> [--repo URL] [--branch NAME] [--instructions-file FILE] [--env KEY=VALUE]... [--database postgres]
                       [--egress LEVEL] [--allow HOST[:PORT]]... [--deny HOST[:PORT]]... [--token-budget N|none] [--environment NAME]
outpost project list
outpost project get <id|name> [--reveal]
outpost project update <id|name> [--repo URL] [--branch NAME] [--instructions-file FILE] [--env KEY=VALUE]... [--unset-env KEY]...
                       [--egress LEVEL] [--allow HOST[:PORT]]... [--deny HOST[:PORT]]... [--remove-rule HOST[:PORT]]... [--token-budget N|none]
    --egress none|registries|custom|open: none lets nothing out; registries (the default) package registries and git
    hosts; custom only the allow list; open any public address. --allow and --deny add to the project's lists
    (deny wins), --remove-rule takes a rule out of both. HOST may be *.example.com or an IP address; the host
    machine is host.outpost.internal:PORT. --token-budget: model tokens a month through the gateway.
outpost project update <id|name> [--environment NAME|none]
    --environment: the environment its sandboxes start from at their next start (outpost environment list);
    none: the host's /usr.
outpost project update <id|name> [--idle-timeout SECONDS]
    --idle-timeout: stop the project's sandboxes after this long with no command, attached terminal, preview
    request or agent run (files kept; the next request wakes them). 0 = never; default 1800.
outpost project update <id|name> [--permission-mode bypass|approve] [--approval-rule RULE]... [--max-run-seconds N] …
${agentFlagsHelp}
outpost project update <id|name> [--git-name NAME --git-email EMAIL] [--git-token-variable NAME] [--known-hosts-file FILE]
${gitFlagsHelp}
outpost project delete <id|name> [--database keep|drop]
    A project with a database needs --database: keep it (an admin can attach it later) or drop its data.
${memberHelp}
${deployKeyHelp}`;

const FIELD_OPTIONS = {
  repo: { type: "string" },
  branch: { type: "string" },
  "instructions-file": { type: "string" },
  env: { type: "string", multiple: true },
  "unset-env": { type: "string", multiple: true },
  ...EGRESS_OPTIONS,
  ...AGENT_OPTIONS,
  ...GIT_OPTIONS,
  database: { type: "string" },
  "idle-timeout": { type: "string" },
  environment: { type: "string" },
  reveal: { type: "boolean", default: false },
  role: { type: "string" },
  rotate: { type: "boolean", default: false },
} as const;

export async function project(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, FIELD_OPTIONS);
  if (positionals[0] === "member") return projectMember(positionals.slice(1), values);
  if (positionals[0] === "deploy-key") return projectDeployKey(positionals.slice(1), values);
  if (values.rotate) throw new UsageError("--rotate goes with `outpost project deploy-key`");
  if (values.role !== undefined) throw new UsageError("--role goes with `outpost project member add`");
  const [verb, ref, ...extra] = positionals;
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const api = new ApiClient(resolveConnection(values));
  const needRef = () => {
    if (!ref) throw new UsageError(`outpost project ${verb} needs a project id or name`);
    return encodeURIComponent(ref);
  };

  switch (verb) {
    case "create": {
      if (!ref) throw new UsageError("outpost project create needs a name");
      const flags = parseEgressFlags(values);
      if (flags.remove.length) throw new UsageError("--remove-rule goes with `outpost project update`");
      if (agentChange(values)) throw new UsageError("the agent flags (--permission-mode, --approval-rule, --max-…) go with `outpost project update`");
      if (gitChange(values))
        throw new UsageError("the git flags (--git-name, --git-email, --git-token-variable, --known-hosts-file) go with `outpost project update`");
      const body = { name: ref, ...fieldsFrom(values), ...egressFields(flags, NO_RULES, ref) };
      return show(await api.create<Project>("/api/v1/projects", body), values.json);
    }
    case "update": {
      const body = fieldsFrom(values);
      for (const name of values["unset-env"] ?? []) {
        body.env = { ...body.env, [name]: null };
      }
      const flags = parseEgressFlags(values);
      const agent = agentChange(values);
      if (agent) Object.assign(body, { agent });
      const git = gitChange(values);
      if (git) Object.assign(body, { git });
      if (Object.keys(body).length === 0 && !hasEgressFlags(flags)) {
        throw new UsageError("nothing to update: pass --repo, --branch, --env, --egress, --allow, --token-budget, --idle-timeout, --environment, …");
      }
      const path = `/api/v1/projects/${needRef()}`;
      // --allow, --deny and --remove-rule edit the stored lists: read them first.
      const current = editsRuleLists(flags) ? await api.request<Project>("GET", path) : { name: ref, egress: NO_RULES };
      return show(await api.request<Project>("PATCH", path, { ...body, ...egressFields(flags, current.egress, current.name ?? "") }), values.json);
    }
    case "get":
      return show(await api.request<Project>("GET", `/api/v1/projects/${needRef()}${values.reveal ? "?reveal=true" : ""}`), values.json);
    case "list": {
      const items = await api.listAll<Project>("/api/v1/projects");
      if (values.json) printJson({ items, nextCursor: null });
      else
        console.log(
          table(
            items.map((p) => ({ ...p, repo: p.repoUrl, created: p.createdAt })),
            ["name", "id", "repo", "created"],
          ),
        );
      return 0;
    }
    case "delete":
      if (values.database !== undefined && !["keep", "drop"].includes(values.database)) throw new UsageError("--database takes keep or drop");
      await api.request("DELETE", `/api/v1/projects/${needRef()}${values.database ? `?database=${values.database}` : ""}`);
      if (!values.json) console.log(`deleted project ${ref}`);
      return 0;
    default:
      throw new UsageError(verb ? `unknown verb 'project ${verb}'` : "outpost project needs a verb: create, list, get, update, delete, member");
  }
}

type Fields = {
  repoUrl?: string;
  defaultBranch?: string;
  instructions?: string;
  env?: Record<string, string | null>;
  database?: string;
  idleTimeoutSeconds?: number;
  environment?: string | null;
};

const NO_RULES = { allow: [], deny: [] };

function fieldsFrom(values: {
  repo?: string;
  branch?: string;
  "instructions-file"?: string;
  env?: string[];
  database?: string;
  "idle-timeout"?: string;
  environment?: string;
}): Fields {
  const fields: Fields = {};
  // "none" clears it (no environment may be called that).
  if (values.environment !== undefined) fields.environment = values.environment === "none" ? null : values.environment;
  if (values["idle-timeout"] !== undefined) fields.idleTimeoutSeconds = idleTimeout(values["idle-timeout"]);
  if (values.repo !== undefined) fields.repoUrl = values.repo;
  if (values.branch !== undefined) fields.defaultBranch = values.branch;
  if (values.database !== undefined) fields.database = values.database;
  if (values["instructions-file"] !== undefined) {
    try {
      fields.instructions = readFileSync(values["instructions-file"], "utf8");
    } catch (error) {
      throw new UsageError(`cannot read --instructions-file: ${(error as Error).message}`);
    }
  }
  if (values.env?.length) {
    fields.env = {};
    for (const pair of values.env) {
      const eq = pair.indexOf("=");
      if (eq < 1) throw new UsageError(`--env takes KEY=VALUE, got '${pair}'`);
      fields.env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return fields;
}

function show(p: Project, json: boolean): number {
  if (json) {
    printJson(p);
    return 0;
  }
  console.log(
    keyValues([
      ["name", p.name],
      ["id", p.id],
      ["repo", p.repoUrl],
      ["branch", p.defaultBranch],
      ["database", p.database],
      ["egress", egressText(p.egress)],
      ["token budget", tokenBudgetText(p.tokenBudget)],
      ["idle stop", idleTimeoutText(p.idleTimeoutSeconds)],
      ["environment", p.environment ?? "none (the host's /usr)"],
      ["agent runs", agentText((p as { agent?: Parameters<typeof agentText>[0] }).agent)],
      ["env", p.env.map((e) => (e.value !== undefined ? `${e.name}=${e.value}` : e.name)).join(", ") || "(none)"],
      ["created", p.createdAt],
    ]),
  );
  return 0;
}

/** --idle-timeout: whole seconds, 0 (never) up to a week. */
function idleTimeout(text: string): number {
  const seconds = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds > MAX_IDLE_TIMEOUT_SECONDS) {
    throw new UsageError(`--idle-timeout takes whole seconds from 0 (never) to ${MAX_IDLE_TIMEOUT_SECONDS}, got '${text}'`);
  }
  return seconds;
}

function idleTimeoutText(seconds: number): string {
  return seconds === 0 ? "never" : `after ${seconds} s idle`;
}
