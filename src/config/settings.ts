// Outpost's settings, read once from the environment and validated by this zod schema,
// which is the spec: every field says what it is for. Pass the parsed object down;
// nothing else in the code reads process.env.
import { totalmem } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { StartupError } from "../domain/errors.ts";
import { KUBERNETES_ENV_NAMES, kubernetesCandidate, kubernetesSettingsSchema } from "./kubernetes-settings.ts";

const port = z.coerce.number().int().min(0).max(65535);

/** Two or more DNS labels (lower case), optionally a port: `preview.example.com`, `previews.test:8443`. */
const PREVIEW_DOMAIN_PATTERN = /^(?=[^:]{1,200}(:|$))([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(:\d{1,5})?$/;

export const settingsSchema = z
  .object({
    dataDir: z.string().min(1).describe("Folder holding all local state (OUTPOST_DATA_DIR, default ./.outpost)."),
    host: z.string().min(1).describe("Address the HTTP server binds to (OUTPOST_HOST). 127.0.0.1 unless you mean to expose it."),
    port: port.describe("HTTP port (OUTPOST_PORT, default 7300; 0 picks a free one)."),
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .optional()
      .describe("Keep control-plane state in this PostgreSQL instead of the embedded one (DATABASE_URL)."),
    pgBin: z.string().optional().describe("A PostgreSQL installation's bin/ to use instead of the npm-installed binaries (OUTPOST_PG_BIN)."),
    secretKey: z.string().optional().describe("Base64 of 32 bytes that encrypts secrets at rest (OUTPOST_SECRET_KEY); default: <data dir>/secret.key."),
    adminToken: z.string().min(24).optional().describe("Ensure this admin API token exists (OUTPOST_ADMIN_TOKEN), e.g. from a Kubernetes Secret."),
    sandboxCpus: z.coerce.number().positive().max(1024).describe("CPU cores each sandbox may use (OUTPOST_SANDBOX_CPUS, default 2)."),
    sandboxMemoryMb: z.coerce.number().int().min(64).describe("Memory per sandbox in MiB (OUTPOST_SANDBOX_MEMORY_MB, default 4096)."),
    sandboxPids: z.coerce.number().int().min(32).describe("Processes and threads per sandbox (OUTPOST_SANDBOX_PIDS, default 4096)."),
    maxSandboxes: z.coerce.number().int().min(1).describe("Sandboxes that may run at once on this installation (OUTPOST_MAX_SANDBOXES, default 64)."),
    maxSandboxMemoryMb: z.coerce
      .number()
      .int()
      .min(64)
      .describe(
        "The memory limits of all running sandboxes together, in MiB (OUTPOST_MAX_SANDBOX_MEMORY_MB; default twice this host's memory: limits are ceilings, not reservations).",
      ),
    driver: z
      .enum(["local", "kubernetes"])
      .describe(
        "Where sandboxes run (OUTPOST_DRIVER): local (bubblewrap on this machine, default) or kubernetes (a StatefulSet per sandbox; OUTPOST_KUBE_* settings).",
      ),
    kubernetes: kubernetesSettingsSchema
      .optional()
      .describe("The Kubernetes driver's settings (OUTPOST_KUBE_*, see kubernetes-settings.ts), with OUTPOST_DRIVER=kubernetes."),
    bwrapPath: z.string().optional().describe("The bubblewrap binary sandboxes run with (OUTPOST_BWRAP); default: bwrap on PATH."),
    idleCheckMs: z.coerce
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .describe("How often running sandboxes are checked for idleness against their project's idleTimeoutSeconds (OUTPOST_IDLE_CHECK_MS, default 15000)."),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).describe("pino log level (OUTPOST_LOG_LEVEL)."),
    publicUrl: z.string().url().optional().describe("The URL people open, when it differs from http://host:port (OUTPOST_PUBLIC_URL)."),
    anthropicUpstream: z
      .string()
      .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, "must be an http(s):// URL")
      .describe("Where the model gateway sends Anthropic calls (OUTPOST_ANTHROPIC_UPSTREAM, default https://api.anthropic.com)."),
    openaiUpstream: z
      .string()
      .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, "must be an http(s):// URL")
      .describe("Where the model gateway sends OpenAI calls (OUTPOST_OPENAI_UPSTREAM, default https://api.openai.com)."),
    geminiUpstream: z
      .string()
      .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, "must be an http(s):// URL")
      .describe("Where the model gateway sends Gemini calls (OUTPOST_GEMINI_UPSTREAM, default https://generativelanguage.googleapis.com)."),
    egressUpstreamCaFile: z
      .string()
      .optional()
      .describe("PEM file of extra CAs the egress proxy and gateway trust for upstream TLS, e.g. a corporate CA (OUTPOST_EGRESS_UPSTREAM_CA)."),
    previewDomain: z
      .string()
      .max(200)
      .regex(PREVIEW_DOMAIN_PATTERN, "must be a lower-case DNS name such as preview.example.com, optionally with :port, without scheme or path")
      .optional()
      .describe(
        "A wildcard domain for previews (OUTPOST_PREVIEW_DOMAIN): a sandbox's port is served at <port>-<sandbox>.<domain>. Point *.<domain> at Outpost; it must not be the UI's own domain or a parent of it. Default: <port>-<sandbox>.localhost:<OUTPOST_PORT>.",
      ),
    agentsDir: z
      .string()
      .optional()
      .describe("Where agent CLIs are installed with npm, shared by all sandboxes read-only (OUTPOST_AGENTS_DIR, default <data dir>/agents)."),
    githubApiUrl: z
      .string()
      .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, "must be an http(s):// URL")
      .describe(
        "GitHub's REST API, where pull requests are opened (OUTPOST_GITHUB_API_URL, default https://api.github.com; GitHub Enterprise: https://HOST/api/v3).",
      ),
    agentVersions: z
      .string()
      .regex(/^([a-z-]+=[0-9A-Za-z.+-]+)?(,[a-z-]+=[0-9A-Za-z.+-]+)*$/, "must look like claude-code=2.1.332,codex=0.171.0")
      .optional()
      .describe("Agent CLI versions other than the pinned ones (OUTPOST_AGENT_VERSIONS), e.g. claude-code=2.1.340."),
    databaseProvisioner: z
      .enum(["managed", "server", "kubeblocks", "cloudnative-pg", "none"])
      .describe(
        "Where projects' PostgreSQL databases live (OUTPOST_DATABASE_PROVISIONER): managed (a PostgreSQL 15 server Outpost runs for project data, default), server (OUTPOST_DATABASE_ADMIN_URL's), kubeblocks or cloudnative-pg (a cluster per project made by that operator, in the Kubernetes driver's namespace; needs OUTPOST_DRIVER=kubernetes), none.",
      ),
    databaseAdminUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
      .optional()
      .describe("An existing PostgreSQL's admin URL (superuser or CREATEROLE+CREATEDB) for the server provisioner (OUTPOST_DATABASE_ADMIN_URL)."),
    projectPgBin: z
      .string()
      .optional()
      .describe("A PostgreSQL installation's bin/ for the managed project server instead of the npm-installed 15 (OUTPOST_PROJECT_PG_BIN)."),
    pgClientBin: z
      .string()
      .optional()
      .describe("The bin/ folder of the pg_dump and psql that dump and restore project databases (OUTPOST_PG_CLIENT_BIN); default: found on the host."),
    poolCheckMs: z.coerce
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .describe("How often environments' warm pools are topped up besides after each claim (OUTPOST_POOL_CHECK_MS, default 10000)."),
    debianMirror: z
      .string()
      .regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, "must be an http(s):// URL")
      .describe("The Debian mirror debian:<suite> images are made from (OUTPOST_DEBIAN_MIRROR, default http://deb.debian.org/debian)."),
    debianRootCache: z
      .string()
      .optional()
      .describe("A folder keeping finished debootstrap roots by suite, copied instead of made again (OUTPOST_DEBIAN_ROOT_CACHE); e.g. on CI machines."),
    imageImportDir: z
      .string()
      .optional()
      .describe("The only folder OCI image layouts and archives are read from (OUTPOST_IMAGE_IMPORT_DIR, default <data dir>/image-imports)."),
  })
  .strict()
  .superRefine((settings, context) => {
    // Previews under the UI's own host would share its cookies' reach (a preview could set
    // a cookie the UI reads) and could even shadow the UI's own host name.
    const uiHost = settings.publicUrl && URL.canParse(settings.publicUrl) ? new URL(settings.publicUrl).hostname.toLowerCase() : undefined;
    const domain = settings.previewDomain?.replace(/:\d+$/, "");
    if (settings.databaseProvisioner === "server" && !settings.databaseAdminUrl) {
      context.addIssue({ code: "custom", path: ["databaseAdminUrl"], message: "is required when OUTPOST_DATABASE_PROVISIONER=server" });
    }
    if ((settings.databaseProvisioner === "kubeblocks" || settings.databaseProvisioner === "cloudnative-pg") && !settings.kubernetes) {
      context.addIssue({
        code: "custom",
        path: ["databaseProvisioner"],
        message: `${settings.databaseProvisioner} makes clusters in the Kubernetes driver's namespace: it needs OUTPOST_DRIVER=kubernetes`,
      });
    }
    if (uiHost && domain && (uiHost === domain || uiHost.endsWith(`.${domain}`))) {
      context.addIssue({
        code: "custom",
        path: ["previewDomain"],
        message: `must not contain the UI's host ${uiHost}; use a domain of its own, e.g. preview-${domain}`,
      });
    }
  });

export type Settings = z.infer<typeof settingsSchema>;

/** Builds settings from an environment (process.env by default) plus explicit overrides. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Settings> = {}): Settings {
  const candidate = {
    dataDir: env.OUTPOST_DATA_DIR || ".outpost",
    host: env.OUTPOST_HOST || "127.0.0.1",
    port: env.OUTPOST_PORT || "7300",
    databaseUrl: env.DATABASE_URL || undefined,
    pgBin: env.OUTPOST_PG_BIN || undefined,
    secretKey: env.OUTPOST_SECRET_KEY || undefined,
    adminToken: env.OUTPOST_ADMIN_TOKEN || undefined,
    bwrapPath: env.OUTPOST_BWRAP || undefined,
    driver: env.OUTPOST_DRIVER || "local",
    kubernetes: env.OUTPOST_DRIVER === "kubernetes" ? kubernetesCandidate(env) : undefined,
    sandboxCpus: env.OUTPOST_SANDBOX_CPUS || "2",
    sandboxMemoryMb: env.OUTPOST_SANDBOX_MEMORY_MB || "4096",
    sandboxPids: env.OUTPOST_SANDBOX_PIDS || "4096",
    maxSandboxes: env.OUTPOST_MAX_SANDBOXES || "64",
    maxSandboxMemoryMb: env.OUTPOST_MAX_SANDBOX_MEMORY_MB || String(Math.floor((2 * totalmem()) / (1024 * 1024))),
    idleCheckMs: env.OUTPOST_IDLE_CHECK_MS || "15000",
    poolCheckMs: env.OUTPOST_POOL_CHECK_MS || "10000",
    debianMirror: env.OUTPOST_DEBIAN_MIRROR || "http://deb.debian.org/debian",
    debianRootCache: env.OUTPOST_DEBIAN_ROOT_CACHE || undefined,
    imageImportDir: env.OUTPOST_IMAGE_IMPORT_DIR || undefined,
    logLevel: env.OUTPOST_LOG_LEVEL || "info",
    publicUrl: env.OUTPOST_PUBLIC_URL || undefined,
    anthropicUpstream: env.OUTPOST_ANTHROPIC_UPSTREAM || "https://api.anthropic.com",
    openaiUpstream: env.OUTPOST_OPENAI_UPSTREAM || "https://api.openai.com",
    geminiUpstream: env.OUTPOST_GEMINI_UPSTREAM || "https://generativelanguage.googleapis.com",
    egressUpstreamCaFile: env.OUTPOST_EGRESS_UPSTREAM_CA || undefined,
    previewDomain: env.OUTPOST_PREVIEW_DOMAIN?.toLowerCase().replace(/\.$/, "") || undefined,
    agentsDir: env.OUTPOST_AGENTS_DIR || undefined,
    agentVersions: env.OUTPOST_AGENT_VERSIONS || undefined,
    githubApiUrl: env.OUTPOST_GITHUB_API_URL || "https://api.github.com",
    databaseProvisioner: env.OUTPOST_DATABASE_PROVISIONER || "managed",
    databaseAdminUrl: env.OUTPOST_DATABASE_ADMIN_URL || undefined,
    projectPgBin: env.OUTPOST_PROJECT_PG_BIN || undefined,
    pgClientBin: env.OUTPOST_PG_CLIENT_BIN || undefined,
    ...overrides,
  };
  const parsed = settingsSchema.safeParse(candidate);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const field = String(first?.path[0] ?? "setting");
    const nested = field === "kubernetes" ? String(first?.path[1] ?? "") : "";
    const envName = nested ? (KUBERNETES_ENV_NAMES[nested as keyof typeof KUBERNETES_ENV_NAMES] ?? nested) : (ENV_NAMES[field] ?? field);
    throw new StartupError(`invalid setting ${nested || field}: ${first?.message}`, `fix the ${envName} environment variable`);
  }
  const dataDir = isAbsolute(parsed.data.dataDir) ? parsed.data.dataDir : resolve(parsed.data.dataDir);
  return { ...parsed.data, dataDir };
}

const ENV_NAMES: Record<string, string> = {
  dataDir: "OUTPOST_DATA_DIR",
  host: "OUTPOST_HOST",
  port: "OUTPOST_PORT",
  databaseUrl: "DATABASE_URL",
  pgBin: "OUTPOST_PG_BIN",
  secretKey: "OUTPOST_SECRET_KEY",
  adminToken: "OUTPOST_ADMIN_TOKEN",
  bwrapPath: "OUTPOST_BWRAP",
  driver: "OUTPOST_DRIVER",
  sandboxCpus: "OUTPOST_SANDBOX_CPUS",
  sandboxMemoryMb: "OUTPOST_SANDBOX_MEMORY_MB",
  sandboxPids: "OUTPOST_SANDBOX_PIDS",
  maxSandboxes: "OUTPOST_MAX_SANDBOXES",
  maxSandboxMemoryMb: "OUTPOST_MAX_SANDBOX_MEMORY_MB",
  idleCheckMs: "OUTPOST_IDLE_CHECK_MS",
  poolCheckMs: "OUTPOST_POOL_CHECK_MS",
  debianMirror: "OUTPOST_DEBIAN_MIRROR",
  debianRootCache: "OUTPOST_DEBIAN_ROOT_CACHE",
  imageImportDir: "OUTPOST_IMAGE_IMPORT_DIR",
  logLevel: "OUTPOST_LOG_LEVEL",
  publicUrl: "OUTPOST_PUBLIC_URL",
  anthropicUpstream: "OUTPOST_ANTHROPIC_UPSTREAM",
  openaiUpstream: "OUTPOST_OPENAI_UPSTREAM",
  geminiUpstream: "OUTPOST_GEMINI_UPSTREAM",
  egressUpstreamCaFile: "OUTPOST_EGRESS_UPSTREAM_CA",
  previewDomain: "OUTPOST_PREVIEW_DOMAIN",
  agentsDir: "OUTPOST_AGENTS_DIR",
  agentVersions: "OUTPOST_AGENT_VERSIONS",
  githubApiUrl: "OUTPOST_GITHUB_API_URL",
  databaseProvisioner: "OUTPOST_DATABASE_PROVISIONER",
  databaseAdminUrl: "OUTPOST_DATABASE_ADMIN_URL",
  projectPgBin: "OUTPOST_PROJECT_PG_BIN",
  pgClientBin: "OUTPOST_PG_CLIENT_BIN",
};
