// The sandbox resource and its verbs, exec and background processes: what clients send and
// get back. Validation, OpenAPI and types all come from these schemas.
import { z } from "zod";
import { MAX_ENV_VALUE_CHARS } from "../domain/project-env.ts";
import { PHASES, STAGE_NAME_PATTERN } from "../domain/sandbox-lifecycle.ts";
import { text } from "./common.ts";

export const stage = z
  .object({
    name: z.string().regex(STAGE_NAME_PATTERN).describe("The driver's stage (local: workspace, isolation, supervisor), then ready."),
    state: z.enum(["pending", "running", "done", "failed"]),
    startedAt: z.string().optional(),
    endedAt: z.string().optional(),
    message: z.string().optional(),
  })
  .meta({ id: "SandboxStage" });

export const sandbox = z
  .object({
    id: z.string(),
    name: z.string().describe("<project>-<6 random [a-z0-9]>, a DNS label."),
    projectId: z.string(),
    primary: z.boolean().describe("The project's first live sandbox."),
    driver: z.enum(["local", "kubernetes"]),
    placement: z
      .object({ namespace: z.string().optional(), pod: z.string().optional(), node: z.string().optional() })
      .nullable()
      .describe("Where it runs, when the driver says: on Kubernetes the namespace, pod and node of its last start; null on this machine."),
    phase: z.enum(PHASES),
    desired: z.enum(["running", "stopped", "deleted"]),
    stage: z.string().nullable().describe("The stage in progress (or failed), if any: a name from `stages`."),
    stages: z.array(stage),
    stoppedReason: z
      .enum(["user", "idle"])
      .nullable()
      .describe(
        "Why it is (to be) stopped: a user's stop, or it sat idle past its project's idleTimeoutSeconds (any request wakes it); null while it should run.",
      ),
    waking: z.boolean().describe("A request is waking it from an idle stop; requests wait until it runs."),
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        // Optional: errors stored before hints existed have neither.
        hint: z.string().optional().describe("One line: what to do about it."),
        retryable: z.boolean().optional().describe("Whether starting the sandbox again can succeed as it is."),
        nextAttemptAt: z.string().optional().describe("When Outpost tries again by itself (retryable failures back off, jittered, up to 5 minutes apart)."),
      })
      .nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: "Sandbox" });

export const sandboxListQuery = z
  .object({
    project: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/)
      .optional()
      .describe("Only this project's sandboxes (id or name)."),
    includeDeleted: z.enum(["true", "false"]).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.string().max(200).optional(),
  })
  .strict();

export const deleteQuery = z
  .object({ keepWorkspace: z.enum(["true", "false"]).optional().describe("Keep the workspace on disk for a later sandbox.") })
  .strict();

const envMap = z.record(
  z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "env names must match [A-Za-z_][A-Za-z0-9_]*")
    .max(128),
  text(MAX_ENV_VALUE_CHARS),
);
const commandEnv = envMap
  .optional()
  .describe("Variables on top of the project's env (which every command gets) and the sandbox's base (HOME, USER, PATH, LANG).");
const command = z.union([
  text(64 * 1024)
    .min(1)
    .describe("Run through `sh -c`."),
  z
    .array(text(64 * 1024))
    .min(1)
    .max(1024)
    .describe("argv, run as is."),
]);
const cwd = text(4096).optional().describe("Working directory inside the sandbox; relative paths are under /workspace.");

export const MAX_EXEC_TIMEOUT_MS = 24 * 3600 * 1000;

/** Who runs a command: the sandbox user, or root inside (sandboxes with an environment image only). */
export const commandUser = z
  .enum(["user", "root"])
  .optional()
  .describe('"root": root inside the sandbox (only with an environment image; never root on the host). Default: the sandbox user.');

export const execBody = z
  .object({
    command,
    cwd,
    env: commandEnv,
    timeoutMs: z.number().int().min(1).max(MAX_EXEC_TIMEOUT_MS).optional(),
    stdin: text(512 * 1024).optional(),
    user: commandUser,
  })
  .strict()
  .meta({ id: "ExecRequest" });

export const execResult = z
  .object({
    exitCode: z.number().int().nullable().describe("null when killed by a signal."),
    signal: z.string().nullable(),
    timedOut: z.boolean(),
    stdout: z.string(),
    stderr: z.string(),
    truncated: z.boolean().describe("Output beyond the cap was dropped (the command still ran to the end)."),
    durationMs: z.number().int(),
  })
  .meta({ id: "ExecResult" });

export const processBody = z
  .object({ command, cwd, env: commandEnv, name: text(100).optional(), user: commandUser })
  .strict()
  .meta({ id: "StartProcess" });

export const processResource = z
  .object({
    id: z.string(),
    name: z.string().nullable().optional(),
    command: z.union([z.string(), z.array(z.string())]),
    cwd: z.string(),
    pid: z.number().int().nullable(),
    status: z.enum(["running", "exited"]),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
    startedAt: z.string(),
    endedAt: z.string().nullable(),
  })
  .meta({ id: "Process" });

export const processParams = z
  .object({
    id: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9_-]+$/),
    processId: z.string().regex(/^prc_[a-z0-9]{6,32}$/, "must be a process id (prc_…)"),
  })
  .strict();

export const logsQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional().describe("Resume after this record (same as Last-Event-ID)."),
    follow: z.enum(["true", "false"]).optional().describe("Keep streaming until the process exits. Default true."),
  })
  .strict();

export const signalBody = z.object({ signal: z.enum(["SIGTERM", "SIGKILL", "SIGINT", "SIGHUP", "SIGUSR1", "SIGUSR2"]) }).strict();

export type Sandbox = z.infer<typeof sandbox>;
export type ExecRequest = z.infer<typeof execBody>;

/** Verbs and create take no input yet; a body, if sent, must be `{}` (anything else is a 400, not ignored). */
export const noBody = z.strictObject({}).nullish().describe("Nothing to send; `{}` is accepted.");
