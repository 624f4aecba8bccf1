// The environment resource (issue 20): a base image, a setup script run once and cached, a
// maintenance script run at every start, the setup phase's env and egress, a warm pool size.
import { z } from "zod";
import { imageRefProblem, MAX_POOL_SIZE, MAX_SETUP_CHARS, MAX_SETUP_ENV_VARS } from "../domain/environments.ts";
import { projectNameProblem } from "../domain/names.ts";
import { text } from "./common.ts";
import { egressPolicy, egressPolicyOut, envName } from "./projects.ts";

export const environmentName = z
  .string()
  .superRefine((value, ctx) => {
    const reason = projectNameProblem(value) ?? (value === "none" ? "'none' is taken: it means no environment (the CLI's --environment none)" : null);
    if (reason) ctx.addIssue({ code: "custom", message: `environment name ${reason}` });
  })
  .describe("Lowercase DNS-1123 label, at most 40 characters; not `none`.");

const image = z
  .string()
  .max(4200)
  .superRefine((value, ctx) => {
    const reason = imageRefProblem(value);
    if (reason) ctx.addIssue({ code: "custom", message: `image ${reason}` });
  })
  .describe(
    "host (the host's /usr, no root inside; default), debian:<suite> (debootstrap), outpost:default (Debian with git, curl, build tools, Python, ripgrep, psql, Node LTS), oci-layout:<path>[@ref] or oci-archive:<path>[@ref] (under the image import folder).",
  );
const script = (what: string) => text(MAX_SETUP_CHARS).nullable().describe(what);
const setupEnv = z
  .record(envName, text(32 * 1024))
  .refine((env) => Object.keys(env).length <= MAX_SETUP_ENV_VARS, `at most ${MAX_SETUP_ENV_VARS} variables`)
  .describe("Environment of the setup script only (not secrets: it is part of the cache key and shown to users).");
const poolSize = z.number().int().min(0).max(MAX_POOL_SIZE).describe("Sandboxes kept started ahead for this environment's next creates (0: none).");

export const createEnvironmentBody = z
  .object({
    name: environmentName,
    image: image.optional(),
    setup: script("Run once as root inside, with `sh -e`; its result is cached until the image, script or setup env change.").optional(),
    maintenance: script("Run as root inside at every start of a sandbox, in /workspace (e.g. `npm ci`).").optional(),
    setupEnv: setupEnv.optional(),
    setupEgress: egressPolicy.optional().describe("Egress of the setup phase; default: the package registries."),
    poolSize: poolSize.optional(),
  })
  .strict()
  .meta({ id: "CreateEnvironment" });

export const updateEnvironmentBody = createEnvironmentBody.omit({ name: true }).meta({ id: "UpdateEnvironment" });

export const environmentRef = z.object({ ref: z.string().min(1).max(200).describe("The environment's name or id.") });

export const environmentBuild = z
  .object({
    id: z.string(),
    state: z.enum(["building", "ready", "failed"]),
    key: z.string().describe("The cache key of its top layer."),
    cached: z.boolean().describe("Nothing had to be made: the result was on disk."),
    error: z.string().nullable(),
    startedAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .meta({ id: "EnvironmentBuild" });

export const environmentBuildLog = environmentBuild.extend({ log: z.string() }).meta({ id: "EnvironmentBuildLog" });

export const environment = z
  .object({
    id: z.string(),
    name: z.string(),
    ownerId: z.string(),
    image: z.string(),
    setup: z.string().nullable(),
    maintenance: z.string().nullable(),
    setupEnv: z.record(z.string(), z.string()),
    setupEgress: egressPolicyOut,
    poolSize: z.number().int(),
    cache: z
      .enum(["none", "ready", "stale"])
      .describe("none: nothing to build (host); ready: the current definition is built; stale: the next start (or a build) makes it."),
    warm: z
      .object({ ready: z.number().int(), starting: z.number().int() })
      .describe("Its warm pool now: sandboxes started and waiting for the next create, and those starting."),
    projects: z.array(z.string()).describe("Names of the projects that use it."),
    lastBuild: environmentBuild.nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Environment" });

export type CreateEnvironmentBody = z.output<typeof createEnvironmentBody>;
export type UpdateEnvironmentBody = z.output<typeof updateEnvironmentBody>;
export type Environment = z.output<typeof environment>;
