// The project resource: what clients send and what they get back. These zod schemas drive
// request validation, the OpenAPI document and the TypeScript types alike.
import { z } from "zod";
import { branchNameProblem, egressDomainProblem, envNameProblem, projectNameProblem, repoUrlProblem } from "../domain/names.ts";
import { MAX_ENV_VALUE_CHARS, projectEnvProblem } from "../domain/project-env.ts";
import { text } from "./common.ts";

/** Turns a pure `xProblem(value) → reason | null` check into a zod refinement. */
const checked = (problem: (value: string) => string | null, what: string) =>
  z.string().superRefine((value, ctx) => {
    const reason = problem(value);
    if (reason) ctx.addIssue({ code: "custom", message: `${what} ${reason}` });
  });

export const projectName = checked(projectNameProblem, "project name").describe("Lowercase DNS-1123 label, at most 40 characters.");
export const repoUrl = checked(repoUrlProblem, "repoUrl").describe("https://, http://, ssh:// or git@host:path. No ext::, file:// or embedded credentials.");
export const branchName = checked(branchNameProblem, "defaultBranch");
const envName = checked(envNameProblem, "env name");

export const MAX_INSTRUCTIONS = 256 * 1024;

export const egressPolicy = z
  .object({
    allow: z
      .array(checked(egressDomainProblem, "egress domain"))
      .max(256)
      .describe("Domains the sandbox may reach, e.g. 'api.github.com' or '*.npmjs.org'. Stored now; enforced by the egress proxy."),
  })
  .strict()
  .meta({ id: "EgressPolicy" });

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
  })
  .strict()
  .meta({ id: "CreateProject" });

export const updateProjectBody = z
  .object({
    repoUrl: repoUrl.nullable().optional(),
    defaultBranch: branchName.nullable().optional(),
    instructions: text(MAX_INSTRUCTIONS).nullable().optional(),
    env: z.record(envName, text(MAX_ENV_VALUE_CHARS).nullable()).optional().describe("Merged into the existing variables: a string sets one, null removes it."),
    egress: egressPolicy.optional(),
    database: z.enum(["none", "postgres"]).optional(),
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
    egress: z.object({ allow: z.array(z.string()) }),
    database: z.enum(["none", "postgres"]),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Project" });

export const revealQuery = z.object({ reveal: z.enum(["true", "false"]).optional().describe("true returns env values in plain text.") }).strict();

export type CreateProject = z.infer<typeof createProjectBody>;
export type UpdateProject = z.infer<typeof updateProjectBody>;
export type Project = z.infer<typeof project>;
