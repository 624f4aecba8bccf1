// The project resource: what clients send and what they get back. These zod schemas drive
// request validation, the OpenAPI document and the TypeScript types alike.
import { z } from "zod";
import { INJECT_FORMATS, injectRuleProblem } from "../domain/credentials.ts";
import { EGRESS_LEVELS, type EgressRule, egressRuleProblem, MAX_EGRESS_RULES, parseEgressRule } from "../domain/egress-policy.ts";
import { knownHostsProblem } from "../domain/git/ssh-keys.ts";
import { MAX_IDLE_TIMEOUT_SECONDS } from "../domain/idle.ts";
import { branchNameProblem, envNameProblem, projectNameProblem, repoUrlProblem } from "../domain/names.ts";
import { MAX_ENV_VALUE_CHARS, projectEnvProblem } from "../domain/project-env.ts";
import { text } from "./common.ts";
import { agentSettingsChange, agentSettingsOut } from "./runs.ts";

/** Turns a pure `xProblem(value) → reason | null` check into a zod refinement. */
const checked = (problem: (value: string) => string | null, what: string) =>
  z.string().superRefine((value, ctx) => {
    const reason = problem(value);
    if (reason) ctx.addIssue({ code: "custom", message: `${what} ${reason}` });
  });

export const projectName = checked(projectNameProblem, "project name").describe("Lowercase DNS-1123 label, at most 40 characters.");
export const repoUrl = checked(repoUrlProblem, "repoUrl").describe("https://, http://, ssh:// or git@host:path. No ext::, file:// or embedded credentials.");
export const branchName = checked(branchNameProblem, "defaultBranch");
export const envName = checked(envNameProblem, "env name");

export const MAX_INSTRUCTIONS = 256 * 1024;

const ruleObject = z.object({ host: z.string().max(260), port: z.number().int().min(1).max(65_535).optional() }).strict();

/** A rule as `{host, port?}` or the short form `"host[:port]"`; stored as the object. */
export const egressRule = z
  .union([z.string().max(270), ruleObject])
  .transform((value, ctx): EgressRule => {
    const parsed = typeof value === "string" ? parseEgressRule(value) : { host: value.host.toLowerCase(), ...(value.port ? { port: value.port } : {}) };
    const problem = typeof parsed === "string" ? parsed : egressRuleProblem(parsed);
    if (problem || typeof parsed === "string") {
      ctx.addIssue({ code: "custom", message: `egress rule ${problem}` });
      return z.NEVER;
    }
    return parsed;
  })
  .describe("A host ('api.github.com', '*.npmjs.org', an IP address, 'host.outpost.internal') with an optional port; as an object or 'host[:port]'.");

const egressFields = {
  level: z
    .enum(EGRESS_LEVELS)
    .describe("none: nothing leaves; registries (default): package registries and git hosts plus `allow`; custom: only `allow`; open: any public address."),
  allow: z
    .array(egressRule)
    .max(MAX_EGRESS_RULES)
    .describe("Hosts the sandbox may reach on top of its level. Naming a host exactly also lets it resolve to a private address."),
  deny: z.array(egressRule).max(MAX_EGRESS_RULES).describe("Hosts the sandbox may never reach, whatever else allows them."),
};

export const egressPolicy = z.object(egressFields).partial().strict().describe("The fields given replace the stored ones.").meta({ id: "EgressPolicyChange" });

const egressRuleOut = z.object({ host: z.string(), port: z.number().int().optional() });
export const egressPolicyOut = z
  .object({ level: z.enum(EGRESS_LEVELS), allow: z.array(egressRuleOut), deny: z.array(egressRuleOut) })
  .meta({ id: "EgressPolicy" });

export const tokenBudget = z
  .number()
  .int()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .nullable()
  .describe("Model tokens (input, output and cache together) the gateway lets through per calendar month (UTC); null: no budget.");

export const projectEnvironment = z
  .string()
  .min(1)
  .max(200)
  .nullable()
  .describe(
    "The name of the environment its sandboxes start from (image, setup; see /api/v1/environments); null: the host's /usr. Applies at the sandboxes' next start.",
  );

export const idleTimeoutSeconds = z
  .number()
  .int()
  .min(0)
  .max(MAX_IDLE_TIMEOUT_SECONDS)
  .describe(
    "Seconds a sandbox may sit idle (no command, attached terminal, preview request or agent run) before it is stopped, files kept; a request wakes it. 0: never. Default 1800.",
  );

const envValues = z.record(envName, text(MAX_ENV_VALUE_CHARS)).superRefine((env, ctx) => {
  const problem = projectEnvProblem(env);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const createProjectBody = z
  .object({
    name: projectName,
    repoUrl: repoUrl.optional(),
    defaultBranch: branchName.optional(),
    instructions: text(MAX_INSTRUCTIONS).optional().describe("Agent instructions; becomes CLAUDE.md in the sandbox."),
    env: envValues.optional().describe("Environment variables; values are encrypted at rest and never returned unless ?reveal=true."),
    egress: egressPolicy.optional(),
    database: z.enum(["none", "postgres"]).optional().describe("Whether the project gets its own PostgreSQL database."),
    tokenBudget: tokenBudget.optional(),
    idleTimeoutSeconds: idleTimeoutSeconds.optional(),
    environment: projectEnvironment.optional(),
  })
  .strict()
  .meta({ id: "CreateProject" });

const gitIdentity = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .regex(/^[^<>\n\r]+$/, "must not contain <, > or line breaks"),
    email: z
      .string()
      .trim()
      .min(3)
      .max(320)
      .regex(/^[^<>\s@]+@[^<>\s@]+$/, "must be an email address"),
  })
  .strict();

export const gitSettingsChange = z
  .object({
    identity: gitIdentity.nullable().optional().describe("Who the agent's commits are by; null: Outpost Agent <agent@outpost.local>."),
    tokenVariable: envName.nullable().optional().describe("The project credential with a token for the repository host and GitHub's API; null: GITHUB_TOKEN."),
    knownHosts: text(16 * 1024)
      .superRefine((value, ctx) => {
        const problem = knownHostsProblem(value);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
      })
      .nullable()
      .optional()
      .describe("known_hosts lines for the repository's SSH host; Outpost pins them itself when it makes a deploy key."),
  })
  .strict()
  .meta({ id: "GitSettingsChange" });

const gitSettingsOut = z
  .object({
    identity: z.object({ name: z.string(), email: z.string() }),
    tokenVariable: z.string(),
    knownHosts: z.string().nullable(),
  })
  .meta({ id: "GitSettings" });

export const updateProjectBody = z
  .object({
    repoUrl: repoUrl.nullable().optional(),
    defaultBranch: branchName.nullable().optional(),
    instructions: text(MAX_INSTRUCTIONS).nullable().optional(),
    env: z.record(envName, text(MAX_ENV_VALUE_CHARS).nullable()).optional().describe("Merged into the existing variables: a string sets one, null removes it."),
    egress: egressPolicy.optional(),
    database: z.enum(["none", "postgres"]).optional(),
    tokenBudget: tokenBudget.optional(),
    agent: agentSettingsChange.optional().describe("Agent run settings; the fields given replace the stored ones (limits field by field)."),
    git: gitSettingsChange.optional().describe("Git settings; the fields given replace the stored ones (null resets one)."),
    idleTimeoutSeconds: idleTimeoutSeconds.optional(),
    environment: projectEnvironment.optional(),
  })
  .strict()
  .describe("The name cannot change: sandboxes and databases are named after it.")
  .meta({ id: "UpdateProject" });

export const envVar = z.object({ name: z.string(), value: z.string().optional().describe("Present only with ?reveal=true.") });

export const project = z
  .object({
    id: z.string(),
    name: z.string(),
    repoUrl: z.string().nullable(),
    defaultBranch: z.string().nullable(),
    instructions: z.string().nullable(),
    env: z.array(envVar),
    egress: egressPolicyOut,
    database: z.enum(["none", "postgres"]),
    tokenBudget: z.number().int().nullable(),
    agent: agentSettingsOut,
    git: gitSettingsOut,
    idleTimeoutSeconds: idleTimeoutSeconds,
    environment: z.string().nullable().describe("The environment its sandboxes start from; null: the host's /usr."),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Project" });

export const revealQuery = z.object({ reveal: z.enum(["true", "false"]).optional().describe("true returns env values in plain text.") }).strict();

export type CreateProject = z.infer<typeof createProjectBody>;
export type UpdateProject = z.infer<typeof updateProjectBody>;
export type Project = z.infer<typeof project>;

// Variables of every kind (docs/api.md, "Variables and secrets").
export const VARIABLE_KINDS = ["env", "secret", "credential"] as const;

export const injectRule = z
  .object({
    host: z.string().max(253).describe("The exact host the credential goes to (no wildcards)."),
    header: z.string().max(64).describe("Lower-case header name, e.g. 'x-api-key' or 'authorization'."),
    format: z
      .enum(INJECT_FORMATS)
      .default("raw")
      .describe("raw: the value; bearer: 'Bearer <value>'; basic: 'Basic base64(<value>)' (a value without ':' is sent as x-access-token:<value>)."),
  })
  .strict()
  .superRefine((rule, ctx) => {
    const problem = injectRuleProblem({ ...rule, host: rule.host, header: rule.header });
    if (problem) ctx.addIssue({ code: "custom", message: `inject rule: ${problem}` });
  })
  .meta({ id: "InjectRule" });

export const setVariableBody = z
  .object({
    name: envName,
    value: text(MAX_ENV_VALUE_CHARS).describe("Never returned for secrets and credentials."),
    kind: z.enum(VARIABLE_KINDS).default("secret"),
    inject: z
      .array(injectRule)
      .min(1)
      .max(16)
      .optional()
      .describe("Credentials: where the value goes. Default for well-known names (ANTHROPIC_API_KEY, OPENAI_API_KEY, GITHUB_TOKEN …)."),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.inject && body.kind !== "credential") ctx.addIssue({ code: "custom", path: ["inject"], message: "only credentials have inject rules" });
  })
  .meta({ id: "SetVariable" });

export const variable = z
  .object({
    name: z.string(),
    kind: z.enum(VARIABLE_KINDS),
    inject: z.array(z.object({ host: z.string(), header: z.string(), format: z.enum(INJECT_FORMATS) })),
    placeholder: z.string().nullable().describe("Credentials: what commands in the sandbox see instead of the value."),
    updatedAt: z.string(),
  })
  .meta({ id: "Variable" });

export const variableParams = z.object({ id: z.string().min(1).max(200), name: envName }).strict();
